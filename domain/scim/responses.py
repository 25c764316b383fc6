"""Reading a target's HTTP responses: JSON bodies and error bodies of any shape.

Targets send `application/scim+json`, `application/json` or stranger content
types, so a body is read as JSON whatever its type, except HTML, which is never
taken for SCIM.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from domain.scim import errors
from domain.scim.payloads import get_key, parse_int

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

#: Characters of a non-SCIM error body kept as the error detail.
DETAIL_LIMIT = 300

#: Keys under which non-SCIM error bodies put their message, by preference.
DETAIL_KEYS = ("detail", "message", "error_description", "error", "title")

#: Keys of an RFC 9457 problem document, which web frameworks send for their
#: own 404s and which therefore does not count as a SCIM error.
PROBLEM_KEYS = ("type", "title", "instance")

#: The nesting depth to which a SCIM error is looked for in another error body.
NESTING_LIMIT = 3


def content_type(response: httpx.Response) -> str:
    value: str = response.headers.get("content-type", "no content type")
    return value.split(";")[0].strip()


def is_html(response: httpx.Response) -> bool:
    """Return whether the body is an HTML page, by its first bytes or content type.

    Some servers label JSON as `text/html`, so a body that starts like JSON is
    read as JSON, whatever its content type.
    """
    start = response.content[:64].lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return True
    looks_like_json = start.startswith((b"{", b"["))
    return "html" in content_type(response).lower() and not looks_like_json


def json_body(response: httpx.Response, method: str, url: str) -> dict[str, Any] | None:
    """Return the JSON object of a successful response, or None for no body."""
    if not response.content.strip():
        return None
    if is_html(response):
        raise errors.ScimInvalidResponse(
            f"{method} {url} returned {response.status_code} with an HTML page "
            "instead of SCIM JSON; is this a SCIM endpoint?",
            method=method,
            url=url,
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise errors.ScimInvalidResponse(
            f"{method} {url} returned {response.status_code} with a body that is "
            f"not JSON ({content_type(response)}); is this a SCIM endpoint?",
            method=method,
            url=url,
        ) from exc
    if not isinstance(body, dict):
        raise errors.ScimInvalidResponse(
            f"{method} {url} returned JSON that is not an object.",
            method=method,
            url=url,
        )
    return body


@dataclass(frozen=True)
class ErrorBody:
    """The detail and scimType an error response's body contains."""

    detail: str | None
    scim_type: str | None
    #: Whether the body is a SCIM error (RFC 7644 3.12), so the response came
    #: from the SCIM service provider and not from a proxy or a web framework.
    is_scim: bool


def read_error(response: httpx.Response) -> ErrorBody:
    """Read an error response's detail and scimType, from a body of any shape.

    The SCIM error may be the body itself, an object in one of its fields, or
    a JSON string in one of its fields, as some gateways wrap it.
    """
    if is_html(response):
        return ErrorBody("an HTML page instead of a SCIM error", None, False)
    text = response.text.strip()
    if not text:
        return ErrorBody(None, None, False)
    try:
        body = json.loads(text)
    except ValueError:
        return ErrorBody(text[:DETAIL_LIMIT], None, False)

    scim_error = find_scim_error(body, response.status_code)
    if scim_error is not None:
        detail = _short_text(get_key(scim_error, "detail"))
        scim_type = _short_text(get_key(scim_error, "scimType"))
        return ErrorBody(detail, scim_type, True)
    return ErrorBody(_any_detail(body), None, False)


def find_scim_error(body: Any, status: int, depth: int = 0) -> dict[str, Any] | None:
    """Return the SCIM error object in `body`, looking into its fields."""
    if depth > NESTING_LIMIT:
        return None
    if isinstance(body, str) and depth > 0:
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if isinstance(body, dict):
        if _is_scim_error(body, status):
            return body
        values: list[Any] = list(body.values())
    elif isinstance(body, list):
        values = body
    else:
        return None
    for value in values:
        found = find_scim_error(value, status, depth + 1)
        if found is not None:
            return found
    return None


def _is_scim_error(document: dict[str, Any], status: int) -> bool:
    """Return whether `document` is a SCIM error, by schema or by status and detail.

    Servers that leave `schemas` out still send `status` and `detail`; a
    problem document (RFC 9457) has both too, so its own keys rule it out.
    """
    schemas = get_key(document, "schemas")
    if isinstance(schemas, list) and any(
        str(schema).lower() == ERROR_SCHEMA.lower() for schema in schemas
    ):
        return True
    if any(get_key(document, key) is not None for key in PROBLEM_KEYS):
        return False
    return (
        parse_int(get_key(document, "status")) == status
        and get_key(document, "detail") is not None
    )


def _any_detail(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in DETAIL_KEYS:
            value = get_key(body, key)
            if isinstance(value, dict):
                value = _any_detail(value)
            text = _short_text(value)
            if text:
                return text
    return _short_text(json.dumps(body))


def _short_text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:DETAIL_LIMIT] or None
