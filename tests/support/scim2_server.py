"""scim2-server, a SCIM 2.0 server written by others, run on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

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
        process = subprocess.Popen(
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

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )

    def create_user(self, user_name: str, **attributes: Any) -> dict[str, Any]:
        payload = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            **attributes,
        }
        with self._client() as client:
            response = client.post("/Users", json=payload)
        assert response.status_code == 201, response.text
        resource: dict[str, Any] = response.json()
        return resource

    def create_users(self, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create many users over one connection, which is faster than `create_user`."""
        created = []
        with self._client() as client:
            for attributes in users:
                payload = {"schemas": [USER_SCHEMA], **attributes}
                response = client.post("/Users", json=payload)
                assert response.status_code == 201, response.text
                created.append(response.json())
        return created

    def create_group(
        self, display_name: str, members: list[str] = ()
    ) -> dict[str, Any]:  # type: ignore[assignment]
        payload = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": display_name,
            "members": [{"value": member} for member in members],
        }
        with self._client() as client:
            response = client.post("/Groups", json=payload)
        assert response.status_code == 201, response.text
        resource: dict[str, Any] = response.json()
        return resource

    def delete_user(self, scim_id: str) -> None:
        with self._client() as client:
            assert client.delete(f"/Users/{scim_id}").status_code == 204

    def users(self) -> list[dict[str, Any]]:
        with self._client() as client:
            response = client.get("/Users", params={"count": 1000})
        assert response.status_code == 200, response.text
        resources: list[dict[str, Any]] = response.json().get("Resources", [])
        return resources
