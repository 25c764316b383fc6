"""Limits on SCIM responses, and what the client never sends or repeats."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

import pytest

from domain.scim import errors
from domain.scim.client import ScimClient
from tests.support.fake_http import fake_server, send_json
from tests.support.fixtures import CONFIGURE, connect, create_application
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

TOKEN = "scim-token-3c9f0e7d51"

AUDIT_LOG = """
{ auditLog { edges { node { action changes } } } }
"""


async def test_large_body_rejected() -> None:
    def answer(request: BaseHTTPRequestHandler) -> None:
        send_json(request, 200, b'{"Resources": [], "pad": "' + b"x" * 5000 + b'"}')

    with fake_server(answer) as server:
        async with ScimClient(server.url(), TOKEN, max_response_bytes=4096) as client:
            with pytest.raises(errors.ScimResponseTooLarge) as raised:
                await client.get("Users")

    assert raised.value.message == (
        f"GET {server.url()}/Users returned a body longer than 4096 bytes, the limit "
        "that SMARTLINK_SCIM_MAX_RESPONSE_BYTES sets."
    )


async def test_large_chunked_body_rejected() -> None:
    # Without Content-Length, the limit applies while the body streams in.
    def answer(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/scim+json")
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()
        chunk = b"x" * 1024
        for _ in range(64):
            request.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        request.wfile.write(b"0\r\n\r\n")

    with fake_server(answer) as server:
        async with ScimClient(server.url(), TOKEN, max_response_bytes=8192) as client:
            with pytest.raises(errors.ScimResponseTooLarge):
                await client.get("Users")


async def test_slow_body_hits_total_timeout() -> None:
    # Each byte comes well within the read timeout; the whole body does not.
    def answer(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/scim+json")
        request.send_header("Content-Length", "100")
        request.end_headers()
        try:
            for _ in range(100):
                request.wfile.write(b" ")
                request.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    with fake_server(answer) as server:
        async with ScimClient(
            server.url(), TOKEN, timeout=5, total_timeout=0.8
        ) as client:
            started = time.monotonic()
            with pytest.raises(errors.ScimTimeout) as raised:
                await client.get("Users")

    assert time.monotonic() - started < 3
    assert raised.value.message == (
        f"GET {server.url()}/Users took longer than 0.8 s in all, the limit that "
        "SMARTLINK_SCIM_TOTAL_TIMEOUT sets."
    )
    assert raised.value.is_transient


async def test_silent_target_hits_read_timeout() -> None:
    def answer(request: BaseHTTPRequestHandler) -> None:
        time.sleep(2)

    with fake_server(answer) as server:
        async with ScimClient(server.url(), TOKEN, timeout=0.3) as client:
            with pytest.raises(errors.ScimTimeout) as raised:
                await client.get("Users")

    assert raised.value.message == f"GET {server.url()}/Users timed out: ReadTimeout."


async def test_echoed_token_redacted(api: GraphQLClient) -> None:
    def echo(request: BaseHTTPRequestHandler) -> None:
        header = request.headers.get("Authorization", "")
        body = b'{"detail": "bad credentials: %s", "status": "401"}' % header.encode()
        send_json(request, 401, body)

    application_id = await create_application(api)
    with fake_server(echo) as server:
        body = await api.execute(
            CONFIGURE, applicationId=application_id, baseUrl=server.url(), token=TOKEN
        )

    assert TOKEN not in str(body)
    message = body["data"]["configureProvisioning"]["errors"][0]["message"]
    assert "bad credentials: Bearer [token]" in message
    assert body["data"]["configureProvisioning"]["errors"][0]["code"] == (
        "TARGET_UNAUTHORIZED"
    )


async def test_new_base_url_clears_token(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    # Given a connection with a saved token
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)

    def answer(request: BaseHTTPRequestHandler) -> None:
        send_json(request, 200, b'{"patch": {"supported": false}}')

    # When the base URL changes and no token is given
    with fake_server(answer) as server:
        data = await api(
            CONFIGURE, applicationId=application_id, baseUrl=server.url(), token=None
        )

    # Then the new host never receives the old token, and none is saved
    payload = data["configureProvisioning"]
    assert payload["provisioning"]["connection"]["tokenConfigured"] is False
    assert server.received
    assert all("Authorization" not in r.headers for r in server.received)
    entries = (await api(AUDIT_LOG))["auditLog"]["edges"]
    assert entries[0]["node"]["action"] == "configureProvisioning"
    assert entries[0]["node"]["changes"] == {
        "baseUrl": {"old": scim_target.base_url, "new": server.url()},
        "token": "cleared",
    }


async def test_same_base_url_keeps_token(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)

    data = await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl=scim_target.base_url + "/",
        token=None,
    )

    payload = data["configureProvisioning"]
    assert payload["errors"] == []
    assert payload["provisioning"]["status"] == "CONNECTED"
    assert payload["provisioning"]["connection"]["tokenConfigured"] is True
