"""A minimal in-memory SCIM 2.0 service provider for load measurements.

It serves just what account creation needs (RFC 7643/7644): discovery,
`GET /Users` with index paging and an `eq` filter, `POST /Users` with 409 on a
duplicate userName, and `GET /Users/{id}`. Each tenant lives under
`/tenants/{tenant}`, so one process can serve a fresh target per measurement.

Every creation records its wall-clock time (`time.time()`), which the
benchmark reads through `/_bench/...` to compute rates and latencies. Nothing
is persisted, and the server is meant for 127.0.0.1 only.

Run it with `python -m bench.scim_stub --port PORT --token TOKEN`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
SCIM_CONTENT_TYPE = "application/scim+json"

#: Resources returned per page when a request gives no `count`.
DEFAULT_COUNT = 100
MAX_COUNT = 1000

#: `attribute eq "value"`, the only filter form this stub evaluates.
FILTER_PATTERN = re.compile(r'^\s*([A-Za-z.]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.I)


@dataclass
class Tenant:
    """One target's users, indexed by id and by lower-cased userName."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_user_name: dict[str, str] = field(default_factory=dict)
    #: Wall-clock creation time of each user, keyed by lower-cased userName.
    created_at: dict[str, float] = field(default_factory=dict)
    conflicts: int = 0
    #: Waiters for a userName's creation, woken by POST.
    waiters: dict[str, asyncio.Event] = field(default_factory=dict)


class Store:
    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}

    def tenant(self, name: str) -> Tenant:
        tenant = self.tenants.get(name)
        if tenant is None:
            tenant = self.tenants[name] = Tenant()
        return tenant


def scim_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=SCIM_CONTENT_TYPE)


def scim_error(status: int, detail: str, scim_type: str | None = None) -> Response:
    body: dict[str, Any] = {
        "schemas": [ERROR_SCHEMA],
        "status": str(status),
        "detail": detail,
    }
    if scim_type:
        body["scimType"] = scim_type
    return scim_response(body, status)


def list_response(resources: list[dict[str, Any]], total: int, start: int) -> Response:
    return scim_response(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
    )


def service_provider_config() -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": False},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_COUNT},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A bearer token given on the command line.",
            }
        ],
    }


def resource_types(base_url: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "schema": USER_SCHEMA,
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base_url}/ResourceTypes/User",
            },
        }
    ]


def _attribute(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "string",
        "multiValued": False,
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
        **extra,
    }


def user_schema() -> dict[str, Any]:
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "User account",
        "attributes": [
            _attribute("userName", required=True, uniqueness="server"),
            _attribute("displayName"),
            _attribute("externalId", caseExact=True),
            _attribute("active", type="boolean"),
            _attribute(
                "name",
                type="complex",
                subAttributes=[_attribute("givenName"), _attribute("familyName")],
            ),
            _attribute(
                "emails",
                type="complex",
                multiValued=True,
                subAttributes=[_attribute("value"), _attribute("primary")],
            ),
        ],
    }


def filter_key(attribute: str) -> Callable[[dict[str, Any]], list[str]]:
    """Return a function giving the values of `attribute` in a user, lower-cased."""
    name = attribute.lower()
    if name == "emails.value":
        return lambda user: [
            str(email.get("value", "")).lower() for email in user.get("emails") or []
        ]
    if name == "externalid":
        # externalId is case-exact (RFC 7643 3.1), so it is compared as is.
        return lambda user: [str(user.get("externalId"))]
    if name == "username":
        return lambda user: [str(user.get("userName", "")).lower()]
    raise KeyError(attribute)


def create_app(token: str | None) -> Starlette:
    store = Store()

    def base_url(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}/tenants/" + str(
            request.path_params["tenant"]
        )

    def authorized(request: Request) -> bool:
        return token is None or request.headers.get("authorization") == (
            f"Bearer {token}"
        )

    async def get_config(request: Request) -> Response:
        return scim_response(service_provider_config())

    async def get_resource_types(request: Request) -> Response:
        types = resource_types(base_url(request))
        return list_response(types, len(types), 1)

    async def get_schemas(request: Request) -> Response:
        return list_response([user_schema()], 1, 1)

    async def list_users(request: Request) -> Response:
        if not authorized(request):
            return scim_error(401, "Missing or wrong bearer token.")
        tenant = store.tenant(request.path_params["tenant"])
        users = list(tenant.users.values())

        expression = request.query_params.get("filter")
        if expression:
            match = FILTER_PATTERN.match(expression)
            try:
                values_of = filter_key(match.group(1)) if match else None
            except KeyError:
                values_of = None
            if match is None or values_of is None:
                return scim_error(
                    400, f"Unsupported filter {expression!r}.", "invalidFilter"
                )
            expected = match.group(2).replace('\\"', '"').replace("\\\\", "\\")
            if match.group(1).lower() != "externalid":
                expected = expected.lower()
            users = [user for user in users if expected in values_of(user)]

        try:
            start = max(1, int(request.query_params.get("startIndex", 1)))
            count = int(request.query_params.get("count", DEFAULT_COUNT))
        except ValueError:
            return scim_error(400, "startIndex and count must be integers.")
        count = max(0, min(count, MAX_COUNT))
        return list_response(users[start - 1 : start - 1 + count], len(users), start)

    async def create_user(request: Request) -> Response:
        if not authorized(request):
            return scim_error(401, "Missing or wrong bearer token.")
        tenant = store.tenant(request.path_params["tenant"])
        try:
            payload = json.loads(await request.body())
            user_name = str(payload["userName"])
        except (ValueError, KeyError, TypeError):
            return scim_error(400, "The body must be a User with a userName.")
        key = user_name.lower()
        if key in tenant.by_user_name:
            tenant.conflicts += 1
            return scim_error(409, f"userName {user_name!r} is taken.", "uniqueness")

        created = time.time()
        scim_id = uuid.uuid4().hex
        stamp = datetime.fromtimestamp(created, UTC).isoformat()
        user = {
            **payload,
            "schemas": [USER_SCHEMA],
            "id": scim_id,
            "meta": {
                "resourceType": "User",
                "created": stamp,
                "lastModified": stamp,
                "location": f"{base_url(request)}/Users/{scim_id}",
            },
        }
        tenant.users[scim_id] = user
        tenant.by_user_name[key] = scim_id
        tenant.created_at[key] = created
        waiter = tenant.waiters.pop(key, None)
        if waiter is not None:
            waiter.set()
        return scim_response(user, 201)

    async def get_user(request: Request) -> Response:
        if not authorized(request):
            return scim_error(401, "Missing or wrong bearer token.")
        tenant = store.tenant(request.path_params["tenant"])
        user = tenant.users.get(request.path_params["id"])
        if user is None:
            return scim_error(404, f"User {request.path_params['id']!r} not found.")
        return scim_response(user)

    async def bench_stats(request: Request) -> Response:
        """Report a tenant's creations: count, first and last time, conflicts."""
        tenant = store.tenant(request.path_params["tenant"])
        times = tenant.created_at.values()
        return JSONResponse(
            {
                "count": len(tenant.created_at),
                "first": min(times, default=None),
                "last": max(times, default=None),
                "conflicts": tenant.conflicts,
            }
        )

    async def bench_wait(request: Request) -> Response:
        """Wait up to `timeout` seconds for a userName's creation; 404 if none."""
        tenant = store.tenant(request.path_params["tenant"])
        key = request.query_params["userName"].lower()
        timeout = min(float(request.query_params.get("timeout", 5)), 60.0)
        if key not in tenant.created_at:
            waiter = tenant.waiters.setdefault(key, asyncio.Event())
            try:
                await asyncio.wait_for(waiter.wait(), timeout)
            except TimeoutError:
                return JSONResponse({"created": None}, status_code=404)
        return JSONResponse({"created": tenant.created_at[key]})

    async def bench_reset(request: Request) -> Response:
        store.tenants.pop(request.path_params["tenant"], None)
        return Response(status_code=204)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    prefix = "/tenants/{tenant}"
    return Starlette(
        routes=[
            Route(f"{prefix}/ServiceProviderConfig", get_config),
            Route(f"{prefix}/ResourceTypes", get_resource_types),
            Route(f"{prefix}/Schemas", get_schemas),
            Route(f"{prefix}/Users", list_users, methods=["GET"]),
            Route(f"{prefix}/Users", create_user, methods=["POST"]),
            Route(f"{prefix}/Users/{{id}}", get_user, methods=["GET"]),
            Route("/_bench/{tenant}/stats", bench_stats),
            Route("/_bench/{tenant}/wait", bench_wait),
            Route("/_bench/{tenant}", bench_reset, methods=["DELETE"]),
            Route("/healthz", healthz),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port to use.")
    parser.add_argument(
        "--token", default=None, help="Bearer token to require; unset accepts any."
    )
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.token),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
