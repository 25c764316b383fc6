"""A fake SCIM service provider on loopback, for faults real servers do not produce.

One uvicorn server runs in a background thread for the whole session. Each test
gets its own `FakeScim` under a path prefix of its own (its `base_url`), sets
how that fake lists resources and which requests fail, then asserts on the
requests it recorded. Requests still in flight from an earlier test reach that
test's fake, never the current one.

    fake_scim.users.resources = make_users(5)
    fake_scim.users.max_page_size = 2
    fake_scim.users.filtering = Filtering.IGNORE
    fake_scim.strict = True
    fake_scim.inject("/Users", FakeResponse.html(500), after=1)
    fake_scim.inject("/Users", FakeResponse(429, headers={"Retry-After": "1"}))
    fake_scim.inject_at_random("/Users", [FakeResponse(503)], chance=0.3, seed=7)
    hold = fake_scim.hold("/Groups")

It reads query strings as RFC 3986 servers do: `%20` is a space and `+` stays
a plus sign, so a client that writes spaces as `+` sends a broken filter.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import json
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
SCIM_JSON = "application/scim+json"

#: Seconds a test waits for a held request to arrive before failing.
ARRIVAL_TIMEOUT = 10.0


@dataclass
class FakeResponse:
    """A response sent in place of the fake's normal response."""

    status: int = 200
    #: A JSON body; ignored when `text` is set.
    json: Any = None
    #: A raw body, sent as is with `content_type`.
    text: str | None = None
    content_type: str = SCIM_JSON
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before responding, to make a client time out.
    delay: float = 0.0

    @classmethod
    def scim_error(
        cls, status: int, detail: str, scim_type: str | None = None
    ) -> FakeResponse:
        """Return a SCIM error response (RFC 7644 3.12)."""
        body: dict[str, Any] = {
            "schemas": [ERROR],
            "status": str(status),
            "detail": detail,
        }
        if scim_type is not None:
            body["scimType"] = scim_type
        return cls(status, json=body)

    @classmethod
    def html(cls, status: int = 500) -> FakeResponse:
        """Return an HTML error page, as a proxy in front of a target sends."""
        page = f"<html><body><h1>{status} Error</h1><p>Try again.</p></body></html>"
        return cls(status, text=page, content_type="text/html; charset=utf-8")

    def to_starlette(self) -> Response:
        if self.text is not None:
            content = self.text.encode()
        elif self.json is not None:
            content = json.dumps(self.json).encode()
        else:
            content = b""
        return Response(
            content, self.status, headers=self.headers, media_type=self.content_type
        )


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake received; `path` is relative to the fake's base URL."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    json: Any
    #: The query string as sent, still percent-encoded.
    query: str = ""
    #: `time.monotonic()` when the fake received it.
    received_at: float = field(default_factory=time.monotonic)


class Filtering(enum.Enum):
    """How an endpoint treats the `filter` of a GET."""

    #: Evaluate `attribute eq "value"`, case-insensitively as RFC 7643 says of
    #: userName; any other filter gets 400 invalidFilter.
    APPLY = "apply"
    #: Evaluate it, but compare values case-sensitively, as SCIMMY does.
    CASE_SENSITIVE = "case-sensitive"
    #: List every resource as if there were no filter.
    IGNORE = "ignore"
    #: Reject every filter with 400 invalidFilter.
    REJECT = "reject"


@dataclass
class ResourceEndpoint:
    """The resources of /Users or /Groups, and how their endpoints misbehave."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    #: The attribute path (such as `emails.value`) that a POST must not
    #: duplicate, case-insensitively, else it gets 409.
    unique_attribute: str | None = None
    #: The scimType of that 409; None sends none.
    conflict_scim_type: str | None = "uniqueness"
    filtering: Filtering = Filtering.APPLY
    #: Gives each created resource its id; JSON integers when it returns ints.
    new_id: Callable[[], Any] = field(default=lambda: uuid.uuid4().hex)
    #: Return 201 with no body to a POST.
    empty_created_body: bool = False
    #: Leave the `Location` header out of a 201.
    omit_location: bool = False
    #: Send `Location` and `meta.location` relative to the host.
    relative_location: bool = False
    #: The status of a PATCH response: 200 returns the resource, 204 no body.
    patch_status: int = 200
    #: Reshapes every resource on its way out, to send quirky values.
    render: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    #: Resources per page at most, whatever `count` the request specifies.
    max_page_size: int | None = None
    #: The `totalResults` announced; None announces the real number.
    total_results: int | None = None
    omit_total_results: bool = False
    #: Send `totalResults` as a string, such as "7".
    total_results_as_string: bool = False
    #: Leave the `Resources` key out of pages that have no resources.
    omit_empty_resources: bool = False
    #: Send `"Resources": null` in pages that have no resources.
    null_empty_resources: bool = False
    #: Return every page as if `startIndex` were 1.
    ignore_start_index: bool = False
    #: Return the first page for a `startIndex` past the last resource, as
    #: some servers do.
    first_page_past_end: bool = False
    #: Added to the `startIndex` echoed in each page; -1 echoes it 0-based.
    echo_shift: int = 0

    def list_page(self, params: dict[str, str]) -> FakeResponse:
        """Build the ListResponse of one index page (RFC 7644 3.4.2.4)."""
        resources = self.resources
        if "filter" in params and self.filtering is not Filtering.IGNORE:
            matched = self._filtered(params["filter"])
            if matched is None:
                return FakeResponse.scim_error(
                    400, f"Unsupported filter {params['filter']!r}.", "invalidFilter"
                )
            resources = matched

        start = max(1, _int_param(params, "startIndex", 1))
        count = max(0, _int_param(params, "count", len(resources)))
        if self.max_page_size is not None:
            count = min(count, self.max_page_size)
        if self.ignore_start_index:
            start = 1

        page = resources[start - 1 : start - 1 + count]
        if not page and start > 1 and count > 0 and self.first_page_past_end:
            start, page = 1, resources[:count]

        total: Any = (
            len(resources) if self.total_results is None else self.total_results
        )
        body: dict[str, Any] = {
            "schemas": [LIST_RESPONSE],
            "totalResults": str(total) if self.total_results_as_string else total,
            "startIndex": start + self.echo_shift,
            "itemsPerPage": len(page),
            "Resources": [self.rendered(r) for r in page],
        }
        if self.omit_total_results:
            del body["totalResults"]
        if not page and self.omit_empty_resources:
            del body["Resources"]
        elif not page and self.null_empty_resources:
            body["Resources"] = None
        return FakeResponse(json=body)

    def _filtered(self, expression: str) -> list[dict[str, Any]] | None:
        """Return the resources an `attribute eq "value"` filter selects."""
        if self.filtering is Filtering.REJECT:
            return None
        match = FILTER.fullmatch(expression.strip())
        if match is None:
            return None
        path = match.group("path")
        value = json.loads(match.group("value"))
        exact = self.filtering is Filtering.CASE_SENSITIVE
        return [
            r
            for r in self.resources
            if any(_same(found, value, exact) for found in _values_at(r, path))
        ]

    def rendered(self, resource: dict[str, Any]) -> dict[str, Any]:
        return self.render(resource) if self.render is not None else resource

    def find(self, scim_id: str) -> dict[str, Any] | None:
        return next((r for r in self.resources if str(r.get("id")) == scim_id), None)

    def conflict(self, payload: dict[str, Any]) -> FakeResponse | None:
        """Return the 409 for a POST that duplicates the unique attribute."""
        path = self.unique_attribute
        if path is None:
            return None
        sent = {str(v).lower() for v in _values_at(payload, path) if v is not None}
        for resource in self.resources:
            stored = {str(v).lower() for v in _values_at(resource, path)}
            if sent & stored:
                return FakeResponse.scim_error(
                    409, f"{path} is already taken.", self.conflict_scim_type
                )
        return None

    def create(self, payload: dict[str, Any], location: str) -> dict[str, Any]:
        """Store a POSTed resource under a new id, as the target would."""
        scim_id = self.new_id()
        resource = {
            **payload,
            "id": scim_id,
            "meta": {"location": f"{location}/{scim_id}"},
        }
        self.resources.append(resource)
        return resource

    def replace(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """Store a PUT body in place of `old`, keeping its id and meta."""
        stored = {**new, "id": old["id"], "meta": old.get("meta", {})}
        self.resources[self.resources.index(old)] = stored
        return stored


#: The one filter form the fake evaluates: `path eq "JSON string"`.
FILTER = re.compile(
    r'(?P<path>[A-Za-z][\w.]*)\s+eq\s+(?P<value>"(?:[^"\\]|\\.)*")', re.I
)


def int_ids(start: int = 1) -> Callable[[], int]:
    """Return an id factory that gives JSON integers, as some targets do."""
    counter = itertools.count(start)
    return lambda: next(counter)


def _values_at(resource: dict[str, Any], path: str) -> list[Any]:
    """Return the values at `path` (`name` or `name.sub`), through lists."""
    values: list[Any] = [resource]
    for name in path.split("."):
        found = []
        for value in values:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict):
                    key = next((k for k in item if k.lower() == name.lower()), None)
                    if key is not None:
                        found.append(item[key])
        values = found
    flat: list[Any] = []
    for value in values:
        flat.extend(value if isinstance(value, list) else [value])
    return flat


def _same(found: Any, value: Any, exact: bool) -> bool:
    if isinstance(found, str) and isinstance(value, str) and not exact:
        return found.lower() == value.lower()
    return str(found) == str(value)


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    try:
        return int(params[name])
    except (KeyError, ValueError):
        return default


class Hold:
    """Requests that `FakeScim.hold` keeps waiting until `release()`."""

    def __init__(self) -> None:
        self._arrived = threading.Event()
        self._released = threading.Event()

    async def wait_arrived(self, timeout: float = ARRIVAL_TIMEOUT) -> None:
        """Wait until a held request has reached the fake."""
        arrived = await asyncio.to_thread(self._arrived.wait, timeout)
        assert arrived, f"No held request reached the fake within {timeout} s."

    def release(self) -> None:
        self._released.set()

    async def block(self) -> None:
        """Keep the calling request waiting until `release()`."""
        self._arrived.set()
        await asyncio.to_thread(self._released.wait)


@dataclass
class _Rule:
    """Acts on the requests to `path` numbered `after + 1` to `after + times`.

    With `chance`, each of those requests is picked at random, with that
    probability, from the rule's own seeded generator, and `responses` gives
    the picked one its response in turn.
    """

    path: str
    method: str | None
    after: int
    times: int | None
    response: FakeResponse | None = None
    hold: Hold | None = None
    matched: int = 0
    chance: float | None = None
    responses: list[FakeResponse] = field(default_factory=list)
    generator: random.Random | None = None

    def applies_to(self, method: str, path: str) -> bool:
        """Count the request if it matches, and return whether the rule acts on it."""
        if path != self.path or (self.method and method != self.method):
            return False
        self.matched += 1
        if self.matched <= self.after:
            return False
        if self.times is not None and self.matched > self.after + self.times:
            return False
        if self.chance is None or self.generator is None:
            return True
        if self.generator.random() >= self.chance:
            return False
        self.response = self.generator.choice(self.responses)
        return True


def default_service_provider_config() -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": 1000},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {"type": "oauthbearertoken", "name": "Bearer", "description": "Token"}
        ],
    }


def default_resource_types() -> list[dict[str, Any]]:
    return [
        {"id": "User", "name": "User", "endpoint": "/Users", "schema": USER_SCHEMA},
        {"id": "Group", "name": "Group", "endpoint": "/Groups", "schema": GROUP_SCHEMA},
    ]


class FakeScim:
    """One test's SCIM service provider; set its attributes to shape its responses.

    Discovery documents set to None get 404. Rules added by `inject` and
    `hold` apply in the order they were added. Once released, a held request
    gets the first injected response that applies, else the normal response.
    """

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        #: The bearer token the fake accepts; None accepts any request.
        self.token: str | None = token
        self.users = ResourceEndpoint(unique_attribute="userName")
        self.groups = ResourceEndpoint(unique_attribute="displayName")
        #: Reject with 400 what strict targets reject: see `strict_problem`.
        self.strict = False
        #: The content type of every normal response with a body.
        self.content_type = SCIM_JSON
        self.service_provider_config: dict[str, Any] | None = (
            default_service_provider_config()
        )
        self.resource_types: list[dict[str, Any]] | None = default_resource_types()
        self.schemas: list[dict[str, Any]] | None = []
        self.requests: list[RecordedRequest] = []
        #: Each request that got an injected response, with that response.
        self.faults: list[tuple[RecordedRequest, FakeResponse]] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()

    def inject(
        self,
        path: str,
        response: FakeResponse,
        *,
        method: str | None = None,
        after: int = 0,
        times: int | None = None,
    ) -> None:
        """Send `response` to requests to `path` instead of the normal response.

        The first `after` matching requests from now on get the normal
        response, then `times` of them (every one, when None) get `response`.
        """
        rule = _Rule(_clean(path), method, after, times, response=response)
        with self._lock:
            self._rules.append(rule)

    def inject_at_random(
        self,
        path: str,
        responses: list[FakeResponse],
        *,
        chance: float,
        seed: int,
        method: str | None = None,
    ) -> None:
        """Send one of `responses`, picked at random, to a share of the
        requests to `path`: each gets one with probability `chance`.

        The same `seed` picks the same requests, counted in arrival order.
        """
        rule = _Rule(
            _clean(path),
            method,
            after=0,
            times=None,
            chance=chance,
            responses=responses,
            generator=random.Random(seed),
        )
        with self._lock:
            self._rules.append(rule)

    def hold(self, path: str, *, method: str | None = None, after: int = 0) -> Hold:
        """Keep requests to `path`, past the first `after`, waiting until released."""
        hold = Hold()
        with self._lock:
            self._rules.append(_Rule(_clean(path), method, after, None, hold=hold))
        return hold

    def release_all(self) -> None:
        for rule in self._rules:
            if rule.hold is not None:
                rule.hold.release()

    def requests_to(self, path: str, method: str = "GET") -> list[RecordedRequest]:
        path = _clean(path)
        return [r for r in self.requests if r.path == path and r.method == method]

    def pages_read(self, path: str) -> list[tuple[int, int]]:
        """Return the (startIndex, count) of each paged GET to `path`, in order."""
        return [
            (int(r.params["startIndex"]), int(r.params["count"]))
            for r in self.requests_to(path)
            if "startIndex" in r.params
        ]

    async def handle(self, request: Request, path: str) -> Response:
        body = await request.body()
        recorded = RecordedRequest(
            method=request.method,
            path=_clean(path),
            params=_query_params(request.url.query),
            headers=dict(request.headers),
            json=json.loads(body) if body else None,
            query=request.url.query,
        )
        with self._lock:
            self.requests.append(recorded)
            rules = [
                r for r in self._rules if r.applies_to(recorded.method, recorded.path)
            ]
            # Read under the lock: a random rule sets its response per request.
            responses = [r.response for r in rules if r.response is not None]

        for rule in rules:
            if rule.hold is not None:
                await rule.hold.block()
        injected = responses[0] if responses else None
        if injected is not None:
            with self._lock:
                self.faults.append((recorded, injected))
            await asyncio.sleep(injected.delay)
            return injected.to_starlette()

        authorization = request.headers.get("authorization")
        if self.token is not None and authorization != f"Bearer {self.token}":
            rejected = FakeResponse.scim_error(401, "Bearer token rejected.")
            return rejected.to_starlette()
        with self._lock:
            response = self._normal_response(recorded)
        if response.content_type == SCIM_JSON:
            response.content_type = self.content_type
        return response.to_starlette()

    def _normal_response(self, request: RecordedRequest) -> FakeResponse:
        """Return what a well-behaved SCIM server sends, within the settings."""
        parts = request.path.strip("/").split("/")
        endpoints = {"Users": self.users, "Groups": self.groups}
        discovery = {
            "ResourceTypes": self.resource_types,
            "Schemas": self.schemas,
        }

        if request.method == "GET" and parts == ["ServiceProviderConfig"]:
            if self.service_provider_config is not None:
                return FakeResponse(json=self.service_provider_config)
        elif request.method == "GET" and len(parts) == 1 and parts[0] in discovery:
            documents = discovery[parts[0]]
            if documents is not None:
                return FakeResponse(json=_list_response(documents))
        elif parts[0] in endpoints:
            response = self._resource_response(request, endpoints[parts[0]], parts)
            if response is not None:
                return response
        return FakeResponse.scim_error(404, f"{request.path} was not found.")

    def _resource_response(
        self, request: RecordedRequest, endpoint: ResourceEndpoint, parts: list[str]
    ) -> FakeResponse | None:
        if request.method == "GET" and len(parts) == 1:
            return endpoint.list_page(request.params)
        problem = self.strict_problem(request) if self.strict else None
        if problem is not None:
            return FakeResponse.scim_error(400, problem, "invalidValue")
        if request.method == "POST" and len(parts) == 1:
            return self._create(request, endpoint, parts[0])
        if len(parts) != 2 or (resource := endpoint.find(parts[1])) is None:
            return None
        if request.method == "GET":
            return FakeResponse(json=endpoint.rendered(resource))
        if request.method == "DELETE":
            endpoint.resources.remove(resource)
            return FakeResponse(204)
        if request.method == "PUT":
            stored = endpoint.replace(resource, request.json or {})
            return FakeResponse(json=endpoint.rendered(stored))
        if request.method == "PATCH":
            _apply_patch(resource, (request.json or {}).get("Operations", []))
            if endpoint.patch_status == 204:
                return FakeResponse(204)
            return FakeResponse(json=endpoint.rendered(resource))
        return None

    def _create(
        self, request: RecordedRequest, endpoint: ResourceEndpoint, name: str
    ) -> FakeResponse:
        payload = request.json or {}
        conflict = endpoint.conflict(payload)
        if conflict is not None:
            return conflict
        prefix = self.base_url.split("/", 3)[3]
        location = (
            f"/{prefix}/{name}"
            if endpoint.relative_location
            else (f"{self.base_url}/{name}")
        )
        resource = endpoint.create(payload, location)
        headers = (
            {} if endpoint.omit_location else {"Location": resource["meta"]["location"]}
        )
        if endpoint.empty_created_body:
            return FakeResponse(201, headers=headers)
        return FakeResponse(201, json=endpoint.rendered(resource), headers=headers)

    def strict_problem(self, request: RecordedRequest) -> str | None:
        """Return why a strict target rejects a POST, PUT or PATCH body, if it does.

        Strict targets take lowercase PATCH ops only, JSON booleans only,
        canonical `type` values in lowercase only, at most one primary value
        per attribute and exactly one primary email, and only the attributes
        of the User schema in `schemas`, when it contains one.
        """
        body = request.json or {}
        if request.method == "PATCH":
            for operation in body.get("Operations", []):
                if operation.get("op") not in ("add", "replace", "remove"):
                    return f"Unknown PATCH op {operation.get('op')!r}."
                if not self._declared(str(operation.get("path", ""))):
                    return f"Unknown attribute {operation.get('path')!r}."
                problem = _value_problem(
                    operation.get("path", ""), operation.get("value")
                )
                if problem is not None:
                    return problem
            return None
        for key in body:
            if not self._declared(key):
                return f"Unknown attribute {key!r}."
        return _value_problem("", body)

    def _declared(self, path: str) -> bool:
        user_schema = next(
            (s for s in self.schemas or [] if s.get("id") == USER_SCHEMA), None
        )
        name = path.split(".")[0].split("[")[0]
        if user_schema is None or not name or name.startswith("urn:"):
            return True
        if name in ("schemas", "id", "externalId", "meta"):
            return True
        return any(a["name"] == name for a in user_schema["attributes"])


def _value_problem(name: str, value: Any) -> str | None:
    """Find a string boolean, a capitalised canonical value or two primaries."""
    last = name.split(".")[-1]
    if last in ("active", "primary") and not isinstance(value, bool):
        return f"{last} must be a boolean, not {value!r}."
    if last == "type" and isinstance(value, str) and value not in CANONICAL_TYPES:
        return f"type {value!r} is not one of {sorted(CANONICAL_TYPES)}."
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _value_problem(key, item)
            if problem is not None:
                return problem
    if isinstance(value, list):
        primaries = [
            i for i in value if isinstance(i, dict) and i.get("primary") is True
        ]
        if len(primaries) > 1 or (last == "emails" and value and not primaries):
            return f"{last} must have exactly one primary value."
        for item in value:
            problem = (
                _value_problem(last, item)
                if not isinstance(item, dict)
                else (_value_problem("", item))
            )
            if problem is not None:
                return problem
    return None


CANONICAL_TYPES = frozenset({"work", "home", "other"})


def _apply_patch(resource: dict[str, Any], operations: list[dict[str, Any]]) -> None:
    """Apply PatchOp operations with plain paths (`name` or `name.sub`)."""
    for operation in operations:
        op = str(operation.get("op", "")).lower()
        path = operation.get("path")
        value = operation.get("value")
        if not path:
            if isinstance(value, dict):
                resource.update(value)
            continue
        target = resource
        *parents, name = str(path).split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        if op == "remove":
            target.pop(name, None)
        elif op == "add" and isinstance(target.get(name), list):
            target[name] = target[name] + (
                value if isinstance(value, list) else [value]
            )
        else:
            target[name] = value


def _query_params(query: str) -> dict[str, str]:
    """Decode a query string as RFC 3986 does, where `+` is not a space."""
    params = {}
    for pair in query.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            params[unquote(name)] = unquote(value)
    return params


def _clean(path: str) -> str:
    return "/" + path.strip("/")


def _list_response(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def make_users(count: int, start: int = 1) -> list[dict[str, Any]]:
    """Return `count` SCIM User resources with predictable ids and names."""
    return [
        {
            "schemas": [USER_SCHEMA],
            "id": f"user-{number:04d}",
            "userName": f"user{number:04d}@example.org",
            "name": {"givenName": "User", "familyName": f"Number{number:04d}"},
            "displayName": f"User {number:04d}",
            "emails": [{"value": f"user{number:04d}@example.org", "primary": True}],
            "active": True,
        }
        for number in range(start, start + count)
    ]


def make_group(
    scim_id: str, display_name: str, member_ids: list[str]
) -> dict[str, Any]:
    return {
        "schemas": [GROUP_SCHEMA],
        "id": scim_id,
        "displayName": display_name,
        "members": [{"value": member_id} for member_id in member_ids],
    }


class FakeScimServer:
    """The uvicorn server, in a daemon thread, that serves every test's fake."""

    def __init__(self) -> None:
        self._fakes: dict[str, FakeScim] = {}
        app = Starlette(
            routes=[
                Route(
                    "/{prefix}/{path:path}",
                    self._dispatch,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                )
            ]
        )
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="fake-scim",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()
        while not self._server.started:
            assert self._thread.is_alive(), "The fake SCIM server failed to start."
            threading.Event().wait(0.01)

    def stop(self) -> None:
        for fake in self._fakes.values():
            fake.release_all()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def new_fake(self) -> FakeScim:
        prefix = "f" + uuid.uuid4().hex[:12]
        fake = FakeScim(
            f"http://127.0.0.1:{self.port}/{prefix}", "fake-token-" + uuid.uuid4().hex
        )
        self._fakes[prefix] = fake
        return fake

    async def _dispatch(self, request: Request) -> Response:
        fake = self._fakes.get(request.path_params["prefix"])
        if fake is None:
            return FakeResponse.scim_error(
                404, "No fake SCIM server here."
            ).to_starlette()
        return await fake.handle(request, request.path_params["path"])


@pytest.fixture(scope="session")
def fake_scim_server() -> Iterator[FakeScimServer]:
    server = FakeScimServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_scim(fake_scim_server: FakeScimServer) -> Iterator[FakeScim]:
    """A fake SCIM service provider of this test's own, with no resources."""
    fake = fake_scim_server.new_fake()
    yield fake
    fake.release_all()
