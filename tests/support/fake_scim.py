"""A fake SCIM service provider on loopback, for faults real servers do not produce.

One uvicorn server runs in a background thread for the whole session. Each test
gets its own `FakeScim` under a path prefix of its own (its `base_url`), sets
how that fake lists resources and which requests fail, then asserts on the
requests it recorded. Requests still in flight from an earlier test reach that
test's fake, never the current one.

    fake_scim.users.resources = make_users(5)
    fake_scim.users.max_page_size = 2
    fake_scim.inject("/Users", FakeResponse.html(500), after=1)
    fake_scim.inject("/Users", FakeResponse(429, headers={"Retry-After": "1"}))
    hold = fake_scim.hold("/Groups")
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

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
    #: `time.monotonic()` when the fake received it.
    received_at: float = field(default_factory=time.monotonic)


@dataclass
class ResourceEndpoint:
    """The resources of /Users or /Groups, and how their listing misbehaves."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    #: Resources per page at most, whatever `count` the request specifies.
    max_page_size: int | None = None
    #: The `totalResults` announced; None announces the real number.
    total_results: int | None = None
    omit_total_results: bool = False
    #: Leave the `Resources` key out of pages that have no resources.
    omit_empty_resources: bool = False
    #: Return every page as if `startIndex` were 1.
    ignore_start_index: bool = False
    #: Return the first page for a `startIndex` past the last resource, as
    #: some servers do.
    first_page_past_end: bool = False

    def list_page(self, params: dict[str, str]) -> dict[str, Any]:
        """Build the ListResponse of one index page (RFC 7644 3.4.2.4)."""
        start = max(1, _int_param(params, "startIndex", 1))
        count = max(0, _int_param(params, "count", len(self.resources)))
        if self.max_page_size is not None:
            count = min(count, self.max_page_size)
        if self.ignore_start_index:
            start = 1

        page = self.resources[start - 1 : start - 1 + count]
        if not page and start > 1 and count > 0 and self.first_page_past_end:
            start, page = 1, self.resources[:count]

        body: dict[str, Any] = {
            "schemas": [LIST_RESPONSE],
            "totalResults": (
                len(self.resources)
                if self.total_results is None
                else self.total_results
            ),
            "startIndex": start,
            "itemsPerPage": len(page),
            "Resources": page,
        }
        if self.omit_total_results:
            del body["totalResults"]
        if not page and self.omit_empty_resources:
            del body["Resources"]
        return body

    def find(self, scim_id: str) -> dict[str, Any] | None:
        return next((r for r in self.resources if r.get("id") == scim_id), None)

    def create(self, payload: dict[str, Any], location: str) -> dict[str, Any]:
        """Store a POSTed resource under a new id, as the target would."""
        scim_id = uuid.uuid4().hex
        resource = {
            **payload,
            "id": scim_id,
            "meta": {"location": f"{location}/{scim_id}"},
        }
        self.resources.append(resource)
        return resource


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
    """Acts on the requests to `path` numbered `after + 1` to `after + times`."""

    path: str
    method: str | None
    after: int
    times: int | None
    response: FakeResponse | None = None
    hold: Hold | None = None
    matched: int = 0

    def applies_to(self, method: str, path: str) -> bool:
        """Count the request if it matches, and return whether the rule acts on it."""
        if path != self.path or (self.method and method != self.method):
            return False
        self.matched += 1
        if self.matched <= self.after:
            return False
        return self.times is None or self.matched <= self.after + self.times


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
        self.users = ResourceEndpoint()
        self.groups = ResourceEndpoint()
        self.service_provider_config: dict[str, Any] | None = (
            default_service_provider_config()
        )
        self.resource_types: list[dict[str, Any]] | None = default_resource_types()
        self.schemas: list[dict[str, Any]] | None = []
        self.requests: list[RecordedRequest] = []
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
        """Return the (startIndex, count) of each GET to `path`, in order."""
        return [
            (int(r.params["startIndex"]), int(r.params["count"]))
            for r in self.requests_to(path)
        ]

    async def handle(self, request: Request, path: str) -> Response:
        body = await request.body()
        recorded = RecordedRequest(
            method=request.method,
            path=_clean(path),
            params=dict(request.query_params),
            headers=dict(request.headers),
            json=json.loads(body) if body else None,
        )
        with self._lock:
            self.requests.append(recorded)
            rules = [
                r for r in self._rules if r.applies_to(recorded.method, recorded.path)
            ]

        for rule in rules:
            if rule.hold is not None:
                await rule.hold.block()
        injected = next((r.response for r in rules if r.response is not None), None)
        if injected is not None:
            await asyncio.sleep(injected.delay)
            return injected.to_starlette()

        authorization = request.headers.get("authorization")
        if self.token is not None and authorization != f"Bearer {self.token}":
            rejected = FakeResponse.scim_error(401, "Bearer token rejected.")
            return rejected.to_starlette()
        with self._lock:
            return self._normal_response(recorded).to_starlette()

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
            return FakeResponse(json=endpoint.list_page(request.params))
        if request.method == "POST" and len(parts) == 1:
            location = f"{self.base_url}/{parts[0]}"
            resource = endpoint.create(request.json or {}, location)
            return FakeResponse(
                201, json=resource, headers={"Location": resource["meta"]["location"]}
            )
        if len(parts) != 2 or (resource := endpoint.find(parts[1])) is None:
            return None
        if request.method == "GET":
            return FakeResponse(json=resource)
        if request.method == "DELETE":
            endpoint.resources.remove(resource)
            return FakeResponse(204)
        return None


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
