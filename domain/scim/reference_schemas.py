"""The schemas of RFC 7643, for targets that publish no /Schemas.

scim2-models generates them from its resource models: the core User
(RFC 7643 4.1) and Group (4.2), and the enterprise User extension (4.3).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from scim2_models import EnterpriseUser, Group, User


@cache
def reference_documents() -> tuple[dict[str, Any], ...]:
    """Return the three schemas as /Schemas resources."""
    return tuple(
        model.to_schema().model_dump(mode="json")
        for model in (User, Group, EnterpriseUser)
    )
