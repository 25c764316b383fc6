"""Rows for bulk statements, built from the models' field defaults."""

from __future__ import annotations

import uuid

import pytest

from domain.bulk import new_row
from domain.models import OperationStatus, ProvisioningOperation


def test_new_row_fills_defaults() -> None:
    application_id = uuid.uuid4()

    row = new_row(
        ProvisioningOperation,
        application_id=application_id,
        action="CREATE_ACCOUNT",
        trigger="job:USER_GAINS_ACCESS",
    )

    assert row["application_id"] == application_id
    assert row["status"] is OperationStatus.PENDING
    assert row["attempts"] == 0
    assert row["dry_run"] is False
    assert isinstance(row["id"], uuid.UUID)
    assert row["created_at"] is not None
    assert row["lock_key"] is None


def test_new_row_ids_differ() -> None:
    first = new_row(
        ProvisioningOperation, application_id=uuid.uuid4(), action="A", trigger="t"
    )
    second = new_row(
        ProvisioningOperation, application_id=uuid.uuid4(), action="A", trigger="t"
    )

    assert first["id"] != second["id"]


def test_new_row_requires_fields() -> None:
    with pytest.raises(TypeError, match="ProvisioningOperation.action is required"):
        new_row(ProvisioningOperation, application_id=uuid.uuid4(), trigger="t")


def test_new_row_rejects_unknown_field() -> None:
    with pytest.raises(TypeError, match="has no field 'colour'"):
        new_row(
            ProvisioningOperation,
            application_id=uuid.uuid4(),
            action="A",
            trigger="t",
            colour="red",
        )
