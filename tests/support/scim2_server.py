"""scim2-server, a SCIM 2.0 server written by others, run on loopback."""

from __future__ import annotations

import functools
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import start_process

TOKEN = "scim-target-token-" + uuid.uuid4().hex
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"Nothing listens on 127.0.0.1:{port} after {timeout} s.")


@dataclass
class Scim2Server:
    process: subprocess.Popen[bytes]
    port: int
    token: str = TOKEN

    @classmethod
    def start(
        cls, *extra_args: str, port: int | None = None, token: str = TOKEN
    ) -> Scim2Server:
        """Start a server; pass the `port` of a stopped one to take its place."""
        port = port or free_port()
        executable = Path(sys.executable).parent / "scim2-server"
        process = start_process(
            [
                str(executable),
                "--hostname",
                "127.0.0.1",
                "--port",
                str(port),
                "--bearer-token",
                token,
                "--dynamic-tenants",
                *extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(port)
        return cls(process=process, port=port, token=token)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def tenant(self) -> ScimTenant:
        """Return a tenant of its own, so each test starts with no resources."""
        return ScimTenant(
            f"http://127.0.0.1:{self.port}/t{uuid.uuid4().hex[:12]}", self.token
        )


@dataclass
class ScimTenant:
    """One tenant's base URL, with direct access for seeding and checking."""

    base_url: str
    token: str

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return _http().request(method, self.base_url + path, headers=headers, **kwargs)

    def create_user(self, user_name: str, **attributes: Any) -> dict[str, Any]:
        payload = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            **attributes,
        }
        response = self._request("POST", "/Users", json=payload)
        assert response.status_code == 201, response.text
        resource: dict[str, Any] = response.json()
        return resource

    def create_users(self, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create many users, reusing the module's one connection pool."""
        created = []
        for attributes in users:
            payload = {"schemas": [USER_SCHEMA], **attributes}
            response = self._request("POST", "/Users", json=payload)
            assert response.status_code == 201, response.text
            created.append(response.json())
        return created

    def create_group(
        self, display_name: str, members: Sequence[str] = (), **attributes: Any
    ) -> dict[str, Any]:
        payload = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": display_name,
            "members": [{"value": member} for member in members],
            **attributes,
        }
        response = self._request("POST", "/Groups", json=payload)
        assert response.status_code == 201, response.text
        resource: dict[str, Any] = response.json()
        return resource

    def add_members(self, group_id: str, member_ids: Sequence[str]) -> None:
        """PATCH members into a group, as another client of the target would."""
        payload = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": member} for member in member_ids],
                }
            ],
        }
        response = self._request("PATCH", f"/Groups/{group_id}", json=payload)
        assert response.status_code in (200, 204), response.text

    def replace_attribute(
        self, resource: str, scim_id: str, path: str, value: Any
    ) -> None:
        """PATCH one attribute, as an admin of the target application would."""
        payload = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": path, "value": value}],
        }
        response = self._request("PATCH", f"/{resource}/{scim_id}", json=payload)
        assert response.status_code in (200, 204), response.text

    def replace_user(self, scim_id: str, resource: dict[str, Any]) -> None:
        """PUT a whole User, as an admin of a target without PATCH would."""
        body = {k: v for k, v in resource.items() if k != "meta"}
        response = self._request("PUT", f"/Users/{scim_id}", json=body)
        assert response.status_code == 200, response.text

    def delete_user(self, scim_id: str) -> None:
        assert self._request("DELETE", f"/Users/{scim_id}").status_code == 204

    def delete_group(self, scim_id: str) -> None:
        assert self._request("DELETE", f"/Groups/{scim_id}").status_code == 204

    def user(self, scim_id: str) -> dict[str, Any] | None:
        """Return the User with this id, or None when the target has none."""
        return self._resource(f"/Users/{scim_id}")

    def group(self, scim_id: str) -> dict[str, Any] | None:
        """Return the Group with this id, or None when the target has none."""
        return self._resource(f"/Groups/{scim_id}")

    def member_ids(self, group_id: str) -> set[str]:
        group = self.group(group_id)
        assert group is not None, f"the target has no group {group_id}"
        return {member["value"] for member in group.get("members") or []}

    def users(self) -> list[dict[str, Any]]:
        return self._list("/Users")

    def user_count(self) -> int:
        """Return the `totalResults` of /Users, reading one resource at most."""
        response = self._request("GET", "/Users", params={"count": 1})
        assert response.status_code == 200, response.text
        total: int = response.json()["totalResults"]
        return total

    def groups(self) -> list[dict[str, Any]]:
        return self._list("/Groups")

    def get(self, path: str) -> dict[str, Any]:
        """GET a document of the tenant, such as /ServiceProviderConfig."""
        document = self._resource(path)
        assert document is not None, f"the target has no {path}"
        return document

    def _resource(self, path: str) -> dict[str, Any] | None:
        response = self._request("GET", path)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        resource: dict[str, Any] = response.json()
        return resource

    def _list(self, path: str) -> list[dict[str, Any]]:
        """Read every resource of an endpoint, a page of 100 at a time."""
        resources: list[dict[str, Any]] = []
        while True:
            params = {"startIndex": len(resources) + 1, "count": 100}
            response = self._request("GET", path, params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            page = body.get("Resources", [])
            resources.extend(page)
            if len(resources) >= body["totalResults"]:
                return resources
            assert page, f"{path} stopped at {len(resources)} resources"


@functools.cache
def _http() -> httpx.Client:
    """Return one client for every tenant; creating one takes tens of milliseconds."""
    return httpx.Client(timeout=10)
