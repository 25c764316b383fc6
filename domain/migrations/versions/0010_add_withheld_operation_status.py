"""Give dry-run operations the status WITHHELD instead of SUCCEEDED

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 22:50:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostgreSQL stores the status as the enum type `operationstatus`, and a
    # value added to it is usable only once the transaction that added it has
    # committed. SQLite stores the name in a VARCHAR(9) without a CHECK
    # constraint, which the 8 letters of WITHHELD fit.
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute("ALTER TYPE operationstatus ADD VALUE IF NOT EXISTS 'WITHHELD'")
    op.execute(
        "UPDATE provisioning_operations SET status = 'WITHHELD' "
        "WHERE dry_run AND status = 'SUCCEEDED'"
    )


def downgrade() -> None:
    # NOTE: PostgreSQL cannot drop a value from an enum type, so `operationstatus`
    # keeps WITHHELD, unused.
    op.execute(
        "UPDATE provisioning_operations SET status = 'SUCCEEDED' "
        "WHERE status = 'WITHHELD'"
    )
