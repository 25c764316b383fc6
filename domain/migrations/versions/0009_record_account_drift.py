"""Record the attributes in which a linked account drifted from SmartLink

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import domain.models.columns

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scim_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("drift", sa.JSON(none_as_null=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "drifted_at",
                domain.models.columns.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("scim_accounts", schema=None) as batch_op:
        batch_op.drop_column("drifted_at")
        batch_op.drop_column("drift")
