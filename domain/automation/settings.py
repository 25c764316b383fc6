"""The Settings tab: one mode per event, and the deprovisioning safeguards."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.applications import get_application
from domain.audit import changed, record_audit
from domain.errors import InvalidInput
from domain.models import DeprovisionAction, ProvisioningMode, ProvisioningSettings
from domain.provisioning.schedule import reschedule

logger = logging.getLogger(__name__)

#: Bounds of the mass-deprovisioning safeguard settings.
MAX_THRESHOLD = 100_000
MAX_WINDOW_MINUTES = 7 * 24 * 60
#: Bounds of the scheduled refresh interval, in minutes: a minute to 30 days.
MIN_REFRESH_INTERVAL = 1
MAX_REFRESH_INTERVAL = 30 * 24 * 60

#: Passed for `refresh_interval` to leave it as it is, since None turns it off.
KEEP: Any = object()


async def get_provisioning_settings(
    session: AsyncSession, application_id: uuid.UUID
) -> ProvisioningSettings:
    """Return the application's settings, or the defaults when none are saved."""
    settings = await session.get(ProvisioningSettings, application_id)
    return settings or ProvisioningSettings(application_id=application_id)


async def dry_run_enabled(session: AsyncSession, application_id: uuid.UUID) -> bool:
    """Return whether the application's writes are withheld and only logged."""
    settings = await session.get(ProvisioningSettings, application_id)
    return settings is not None and settings.dry_run


async def update_provisioning_settings(
    session: AsyncSession,
    application_id: uuid.UUID,
    *,
    user_gains_access: ProvisioningMode | None = None,
    user_loses_access: ProvisioningMode | None = None,
    user_deactivated: ProvisioningMode | None = None,
    user_updated: ProvisioningMode | None = None,
    deprovision_action: DeprovisionAction | None = None,
    mass_deprovision_threshold: int | None = None,
    mass_deprovision_window_minutes: int | None = None,
    dry_run: bool | None = None,
    refresh_interval: int | None = KEEP,
    token_name: str | None = None,
) -> ProvisioningSettings:
    """Change the given settings; None leaves a setting as it is.

    `refresh_interval` is the exception: None turns scheduled refreshes off,
    and `KEEP` leaves the interval as it is. A new interval counts from the
    last refresh. The change is written to the audit log under `token_name`.
    """
    await get_application(session, application_id)
    _check_range(
        mass_deprovision_threshold, 1, MAX_THRESHOLD, "massDeprovisionThreshold"
    )
    _check_range(
        mass_deprovision_window_minutes,
        1,
        MAX_WINDOW_MINUTES,
        "massDeprovisionWindowMinutes",
    )
    if refresh_interval is not KEEP:
        _check_range(
            refresh_interval,
            MIN_REFRESH_INTERVAL,
            MAX_REFRESH_INTERVAL,
            "refreshInterval",
        )

    settings = await session.get(ProvisioningSettings, application_id)
    if settings is None:
        settings = ProvisioningSettings(application_id=application_id)
        session.add(settings)
        # Inserted now with its defaults, because the INSERT would leave out a
        # None interval and apply the column's default again.
        await session.flush()
    changes = {
        "user_gains_access": user_gains_access,
        "user_loses_access": user_loses_access,
        "user_deactivated": user_deactivated,
        "user_updated": user_updated,
        "deprovision_action": deprovision_action,
        "mass_deprovision_threshold": mass_deprovision_threshold,
        "mass_deprovision_window_minutes": mass_deprovision_window_minutes,
        "dry_run": dry_run,
    }
    before = {name: getattr(settings, name) for name in changes}
    before["refresh_interval"] = settings.refresh_interval
    for name, value in changes.items():
        if value is not None:
            setattr(settings, name, value)
    if refresh_interval is not KEEP:
        settings.refresh_interval = refresh_interval
        if before["refresh_interval"] != refresh_interval:
            await reschedule(session, application_id, refresh_interval)
    if dry_run is not None and dry_run != before["dry_run"]:
        logger.info(
            "Dry run turned %s for application %s by token %r.",
            "on" if dry_run else "off",
            application_id,
            token_name,
        )

    if user_updated not in (None, ProvisioningMode.MANUAL, before["user_updated"]):
        await _raise_known_drift(session, application_id)

    after = {name: getattr(settings, name) for name in before}
    record_audit(
        session,
        token_name=token_name,
        action="updateProvisioningSettings",
        application_id=application_id,
        objects={"Application": application_id},
        changes=changed(before, after),
    )
    await session.flush()
    return settings


async def _raise_known_drift(session: AsyncSession, application_id: uuid.UUID) -> None:
    # Imported here because drift emits events, which read these settings.
    from domain.automation.drift import raise_known_drift

    await session.flush()
    raised = await raise_known_drift(session, application_id)
    if raised:
        logger.info(
            "Raised metadata updates for %d drifted accounts of application %s.",
            raised,
            application_id,
        )


def _check_range(value: int | None, low: int, high: int, field: str) -> None:
    if value is not None and not low <= value <= high:
        raise InvalidInput(
            f"{field} is {value}; it must be between {low} and {high}.", field=[field]
        )
