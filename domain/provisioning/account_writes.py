"""Changes to an existing account in the target: update and deactivate.

Each write is logged as a provisioning operation and applied to the mirror
as soon as the target accepts it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation.settings import dry_run_enabled
from domain.errors import ErrorCode, TargetError
from domain.models import ScimAccount
from domain.provisioning.capabilities import remember_update_method
from domain.provisioning.connection import open_client, require_connection
from domain.provisioning.mirror import apply_account
from domain.provisioning.operations import (
    Subject,
    record_target_failure,
    record_withheld,
    start_operation,
    succeed,
)
from domain.scim.dry_run import WriteWithheld
from domain.scim.errors import ScimError
from domain.scim.paths import parse_patch_path
from domain.scim.payloads import USER_SCHEMA
from domain.scim.target_schema import TargetSchema
from domain.scim.writes import Update, update_resource

logger = logging.getLogger(__name__)

UPDATE_ACCOUNT = "UPDATE_ACCOUNT"
DEACTIVATE_ACCOUNT = "DEACTIVATE_ACCOUNT"
ACTIVATE_ACCOUNT = "ACTIVATE_ACCOUNT"


def declared_changes(
    changes: dict[str, Any], schema: TargetSchema, action: str, user_name: str
) -> dict[str, Any]:
    """Keep the changes to attributes the target's User schema declares.

    An update drops the others, which the target cannot store anyway. A
    (de)activation without `active` cannot be carried out, so it raises.
    """
    declared = {p: v for p, v in changes.items() if declares_path(schema, p)}
    dropped = sorted(set(changes) - set(declared))
    if dropped:
        logger.info("Not sending %s: the target's User schema lacks them.", dropped)
    if "active" in dropped and action != UPDATE_ACCOUNT:
        raise TargetError(
            f"Could not change whether account {user_name!r} is active: the "
            "target's User schema declares no 'active' attribute, so accounts "
            "cannot be deactivated there. Delete the account instead, and set "
            "the Settings tab's deprovisioning action to DELETE.",
            code=ErrorCode.TARGET_REJECTED,
        )
    return declared


def declares_path(schema: TargetSchema, path: str) -> bool:
    """Return whether the target's schemas declare a User attribute path.

    An extension path is looked up in its extension's schema. A path may
    end with a filter, as a removal of selected values does.
    """
    parsed = parse_patch_path(path, USER_SCHEMA)
    return schema.declares(parsed.schema_urn or USER_SCHEMA, parsed.attribute_path)


async def change_account(
    session: AsyncSession,
    account: ScimAccount,
    changes: dict[str, Any],
    *,
    action: str,
    trigger: str,
) -> list[str]:
    """Write attribute `changes` to the account in the target and the mirror.

    `changes` holds SCIM values by PATCH path, as `attribute_changes` returns
    them, with `REMOVE` for attributes to remove. Returns the paths sent,
    which leave out those the target does not declare. In dry run, the update
    is logged, the mirror is left as it was, and `DryRun` is raised.
    """
    connection = await require_connection(session, account.application_id)
    dry_run = await dry_run_enabled(session, account.application_id)
    schema = TargetSchema.from_documents(connection.schemas)
    values = declared_changes(changes, schema, action, account.user_name)
    subject = Subject(
        application_id=account.application_id,
        trigger=trigger,
        user_id=account.user_id,
        scim_id=account.scim_id,
    )
    operation = await start_operation(session, subject, action)
    update: Update | None = None
    doing = f"update account {account.user_name!r}"
    try:
        async with open_client(connection, dry_run=dry_run) as client:
            if values:
                update = await update_resource(
                    client, "Users", USER_SCHEMA, account.scim_id, values
                )
                resource = update.resource
            else:
                resource = await client.get_resource("Users", account.scim_id)
    except WriteWithheld as withheld:
        raise await record_withheld(session, operation, withheld, doing) from None
    except ScimError as exc:
        raise await record_target_failure(session, operation, exc, doing) from exc

    if update is not None and update.fell_back:
        remember_update_method(connection, update.method)
    apply_account(account, resource)
    account.drift = account.drifted_at = None
    session.add(account)
    succeed(operation, scim_id=account.scim_id, status=200)
    await session.commit()
    logger.info("%s %r: %s.", action, account.scim_id, ", ".join(values) or "none")
    return list(values)
