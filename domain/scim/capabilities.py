"""A target's capabilities, read field by field from its ServiceProviderConfig.

A missing or malformed part of the document (RFC 7643 5) turns off only the
feature it describes, and is reported as a problem. A target without the
document gets conservative defaults: no PATCH (updates use GET and PUT), no
filters (lookups page through the resources), no bulk and no ETags. An admin's
override wins over both, and a learned update method wins over the document.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any

from domain.scim.payloads import get_key, parse_bool, parse_int


class Source(enum.Enum):
    """The origin of a capability's value."""

    TARGET = "TARGET"
    DEFAULT = "DEFAULT"
    OVERRIDE = "OVERRIDE"
    #: What a target accepted after it rejected the other update method.
    LEARNED = "LEARNED"


class UpdateMethod(enum.Enum):
    PATCH = "PATCH"
    PUT = "PUT"


@dataclass(frozen=True)
class Feature:
    supported: bool
    source: Source


@dataclass(frozen=True)
class Limit:
    value: int | None
    source: Source


#: The keys of an application's capability overrides.
OVERRIDE_KEYS = ("patch", "filter", "bulk", "etag", "maxResults", "maxOperations")


@dataclass(frozen=True)
class Capabilities:
    patch: Feature
    filter: Feature
    bulk: Feature
    etag: Feature
    #: `filter.maxResults`: the most resources one query returns.
    max_results: Limit
    #: `bulk.maxOperations`: the most operations one bulk request may carry.
    max_operations: Limit
    #: Sentences naming the parts of the ServiceProviderConfig that were
    #: missing or malformed, and what was assumed instead.
    problems: tuple[str, ...] = ()

    @property
    def update_method(self) -> UpdateMethod:
        return UpdateMethod.PATCH if self.patch.supported else UpdateMethod.PUT


def conservative(problems: tuple[str, ...] = ()) -> Capabilities:
    """Return the capabilities assumed of a target that publishes none."""
    off = Feature(False, Source.DEFAULT)
    unknown = Limit(None, Source.DEFAULT)
    return Capabilities(off, off, off, off, unknown, unknown, problems)


NO_CONFIG = (
    "The target publishes no ServiceProviderConfig, so updates use GET and PUT, "
    "lookups page through the resources, and bulk and ETags are not used."
)


def read_service_provider_config(document: dict[str, Any] | None) -> Capabilities:
    """Read each feature of a ServiceProviderConfig on its own."""
    if document is None:
        return conservative((NO_CONFIG,))
    problems: list[str] = []

    patch = _feature(document, "patch", problems)
    etag = _feature(document, "etag", problems)
    filter_ = _feature(document, "filter", problems)
    max_results = _limit(
        document, "filter.maxResults", filter_, problems, "so no limit is assumed"
    )
    bulk = _feature(document, "bulk", problems)
    max_operations = _limit(
        document,
        "bulk.maxOperations",
        bulk,
        problems,
        "so bulk is treated as unsupported",
    )
    if bulk.supported and max_operations.value is None:
        # Bulk requests cannot be sized without maxOperations.
        bulk = Feature(False, Source.DEFAULT)

    return Capabilities(
        patch=patch,
        filter=filter_,
        bulk=bulk,
        etag=etag,
        max_results=max_results,
        max_operations=max_operations,
        problems=tuple(problems),
    )


def _feature(document: dict[str, Any], name: str, problems: list[str]) -> Feature:
    section = get_key(document, name)
    if not isinstance(section, dict):
        state = "missing" if section is None else "not an object"
        problems.append(f"{name} is {state}, so it is treated as unsupported")
        return Feature(False, Source.DEFAULT)
    supported = parse_bool(get_key(section, "supported"))
    if supported is None:
        problems.append(
            f"{name}.supported is missing or not a boolean "
            f"({get_key(section, 'supported')!r}), so {name} is treated as "
            "unsupported"
        )
        return Feature(False, Source.DEFAULT)
    return Feature(supported, Source.TARGET)


def _limit(
    document: dict[str, Any],
    path: str,
    feature: Feature,
    problems: list[str],
    consequence: str,
) -> Limit:
    """Read the positive integer at `path` (`section.name`) of a supported feature."""
    if not feature.supported:
        return Limit(None, Source.DEFAULT)
    section_name, name = path.split(".")
    raw = get_key(get_key(document, section_name), name)
    value = parse_int(raw)
    if value is None or value < 1:
        problems.append(
            f"{path} is missing or not a positive integer ({raw!r}), {consequence}"
        )
        return Limit(None, Source.DEFAULT)
    return Limit(value, Source.TARGET)


def with_learned(
    capabilities: Capabilities, method: UpdateMethod | None
) -> Capabilities:
    """Apply the update method a target accepted after rejecting the other one."""
    if method is None:
        return capabilities
    return replace(
        capabilities, patch=Feature(method is UpdateMethod.PATCH, Source.LEARNED)
    )


def with_overrides(
    capabilities: Capabilities, overrides: dict[str, Any] | None
) -> Capabilities:
    """Apply an admin's overrides, keyed as `OVERRIDE_KEYS`; null keys are ignored."""
    if not overrides:
        return capabilities
    changes: dict[str, Feature | Limit] = {}
    for key, attribute in (
        ("patch", "patch"),
        ("filter", "filter"),
        ("bulk", "bulk"),
        ("etag", "etag"),
    ):
        value = overrides.get(key)
        if isinstance(value, bool):
            changes[attribute] = Feature(value, Source.OVERRIDE)
    for key, attribute in (
        ("maxResults", "max_results"),
        ("maxOperations", "max_operations"),
    ):
        value = overrides.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            changes[attribute] = Limit(value, Source.OVERRIDE)
    return replace(capabilities, **changes)  # type: ignore[arg-type]
