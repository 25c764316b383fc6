"""Outbound rules: which addresses SCIM requests may reach, checked when a base
URL is saved and again at every connection."""

from __future__ import annotations

import ipaddress
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from domain.outbound import (
    OutboundPolicy,
    OutboundRejected,
    parse_base_url,
    parse_ipv4_host,
    rejection_rule,
)
from domain.scim import errors
from domain.scim.client import ScimClient
from domain.scim.transport import GuardedTransport
from tests.support.fake_http import (
    SelfSignedCertificate,
    fake_server,
    send_json,
)
from tests.support.fixtures import (
    CONFIGURE,
    FakeDNS,
    allow_outbound,
    connect,
    create_application,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

SERVICE_PROVIDER_CONFIG = b'{"patch": {"supported": false}}'

CONNECTION = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning { status connection { baseUrl tokenConfigured lastError } }
    }
  }
}
"""


@pytest.mark.parametrize(
    ("written", "address"),
    [
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("1.2.3.4", "1.2.3.4"),
    ],
)
def test_ipv4_host_forms(written: str, address: str) -> None:
    assert parse_ipv4_host(written) == ipaddress.IPv4Address(address)


@pytest.mark.parametrize(
    "written", ["example.com", "256.1.1.1", "08.1.1.1", "1.2.3.4.5", "0x100000000", ""]
)
def test_ipv4_host_forms_rejected(written: str) -> None:
    assert parse_ipv4_host(written) is None


def test_base_url_legacy_address_rewritten() -> None:
    assert (
        parse_base_url("https://0177.0.0.1:8443/scim/") == "https://127.0.0.1:8443/scim"
    )
    assert parse_base_url("https://2130706433/scim") == "https://127.0.0.1/scim"


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("::ffff:169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-global"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("2002:7f00:1::", "loopback"),
        ("8.8.8.8", None),
        ("::ffff:8.8.8.8", None),
        ("2606:4700::1", None),
    ],
)
def test_rejection_rules(address: str, rule: str | None) -> None:
    assert rejection_rule(ipaddress.ip_address(address)) == rule


def test_allow_list_covers_mapped_address() -> None:
    policy = OutboundPolicy.from_entries(["127.0.0.0/8", "scim.internal"])

    policy.check_address(
        "x.test", ipaddress.ip_address("::ffff:127.0.0.9"), plain_http=True
    )
    policy.check_address(
        "SCIM.internal.", ipaddress.ip_address("10.0.0.1"), plain_http=True
    )
    with pytest.raises(OutboundRejected):
        policy.check_address(
            "x.test", ipaddress.ip_address("10.0.0.1"), plain_http=False
        )


@pytest.mark.parametrize(
    ("base_url", "rule", "address"),
    [
        ("https://127.1/scim", "loopback", "127.0.0.1"),
        ("https://2130706433/scim", "loopback", "127.0.0.1"),
        ("https://0177.0.0.1/scim", "loopback", "127.0.0.1"),
        ("https://0x7f.0.0.1/scim", "loopback", "127.0.0.1"),
        ("https://0.0.0.0/scim", "unspecified", "0.0.0.0"),
        ("https://[::1]/scim", "loopback", "::1"),
        ("https://[::ffff:127.0.0.1]/scim", "loopback", "127.0.0.1"),
        ("https://169.254.169.254/latest", "link-local", "169.254.169.254"),
        ("https://[::ffff:a9fe:a9fe]/latest", "link-local", "169.254.169.254"),
        ("https://10.1.2.3/scim", "private", "10.1.2.3"),
    ],
)
async def test_non_public_base_url_rejected(
    api: GraphQLClient,
    monkeypatch: pytest.MonkeyPatch,
    fake_dns: FakeDNS,
    base_url: str,
    rule: str,
    address: str,
) -> None:
    allow_outbound(monkeypatch, "")
    application_id = await create_application(api)

    data = await api(
        CONFIGURE, applicationId=application_id, baseUrl=base_url, token="t"
    )

    payload = data["configureProvisioning"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("OUTBOUND_REJECTED", ["baseUrl"])
    ]
    message = payload["errors"][0]["message"]
    assert f"a {rule} address" in message or f"an {rule} address" in message
    assert f"adds '{address}'" in message
    assert "SMARTLINK_OUTBOUND_ALLOW" in message
    assert payload["provisioning"] is None
    assert (await api(CONNECTION, id=application_id))["node"]["provisioning"][
        "connection"
    ] is None


async def test_metadata_address_named(
    api: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_outbound(monkeypatch, "")
    application_id = await create_application(api)

    data = await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl="http://169.254.169.254/latest/meta-data",
        token="t",
    )

    message = data["configureProvisioning"]["errors"][0]["message"]
    assert message == (
        "Address 169.254.169.254 is a link-local address (cloud metadata services "
        "answer there). SCIM requests may not reach link-local addresses unless an "
        "operator adds '169.254.169.254' or its network to SMARTLINK_OUTBOUND_ALLOW."
    )


async def test_userinfo_rejected(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    data = await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl="https://public@127.0.0.1/scim",
        token="t",
    )

    errors_ = data["configureProvisioning"]["errors"]
    assert [(e["code"], e["field"]) for e in errors_] == [("INVALID", ["baseUrl"])]
    assert "contains credentials before '@'" in errors_[0]["message"]
    assert data["configureProvisioning"]["provisioning"] is None


async def test_name_resolving_to_loopback_rejected(
    api: GraphQLClient, monkeypatch: pytest.MonkeyPatch, fake_dns: FakeDNS
) -> None:
    allow_outbound(monkeypatch, "")
    fake_dns.add("scim.example", ["93.184.215.14", "127.0.0.1"])
    application_id = await create_application(api)

    data = await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl="https://scim.example/scim/v2",
        token="t",
    )

    message = data["configureProvisioning"]["errors"][0]["message"]
    assert data["configureProvisioning"]["errors"][0]["code"] == "OUTBOUND_REJECTED"
    assert message.startswith(
        "Host 'scim.example' resolves to 127.0.0.1, which is a loopback address."
    )


async def test_plain_http_needs_allow_list(
    api: GraphQLClient, monkeypatch: pytest.MonkeyPatch, fake_dns: FakeDNS
) -> None:
    allow_outbound(monkeypatch, "")
    fake_dns.add("scim.example", ["93.184.215.14"])
    application_id = await create_application(api)

    data = await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl="http://scim.example/scim/v2",
        token="t",
    )

    errors_ = data["configureProvisioning"]["errors"]
    assert [e["code"] for e in errors_] == ["OUTBOUND_REJECTED"]
    assert "plain http" in errors_[0]["message"]
    assert "allow 'scim.example' in SMARTLINK_OUTBOUND_ALLOW" in errors_[0]["message"]


async def test_dns_rebinding_refused_at_connection(
    api: GraphQLClient,
    monkeypatch: pytest.MonkeyPatch,
    fake_dns: FakeDNS,
    scim_target: ScimTenant,
    connections: list[str],
) -> None:
    # Given a name whose first answer is allowed and whose next one is loopback
    allow_outbound(monkeypatch, "127.0.0.2")
    fake_dns.add("scim.rebind.test", ["127.0.0.2"], ["127.0.0.1"])
    base_url = scim_target.base_url.replace("127.0.0.1", "scim.rebind.test")
    application_id = await create_application(api)

    # When the base URL is saved and the connection is made
    data = await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl=base_url,
        token=scim_target.token,
    )

    # Then the address of the second answer is refused, and nothing connected
    payload = data["configureProvisioning"]
    assert [e["code"] for e in payload["errors"]] == ["OUTBOUND_REJECTED"]
    message = payload["errors"][0]["message"]
    assert "Host 'scim.rebind.test' resolves to 127.0.0.1" in message
    assert "a loopback address" in message
    assert fake_dns.lookups == ["scim.rebind.test", "scim.rebind.test"]
    assert connections == []
    assert payload["provisioning"]["status"] == "FAILED"
    assert payload["provisioning"]["connection"]["lastError"] == message


async def test_transport_connects_to_checked_address(
    api: GraphQLClient,
    monkeypatch: pytest.MonkeyPatch,
    fake_dns: FakeDNS,
    scim_target: ScimTenant,
    connections: list[str],
    job_worker: None,
) -> None:
    allow_outbound(monkeypatch, "127.0.0.1")
    fake_dns.add("scim.example", ["127.0.0.1"])
    application_id = await create_application(api)
    target = ScimTenant(
        scim_target.base_url.replace("127.0.0.1", "scim.example"), scim_target.token
    )

    run = await connect(api, application_id, target)

    assert run["status"] == "SUCCEEDED"
    assert set(connections) == {"127.0.0.1"}
    assert set(fake_dns.lookups) == {"scim.example"}


async def test_https_keeps_host_and_server_name(
    monkeypatch: pytest.MonkeyPatch,
    fake_dns: FakeDNS,
    tmp_path: Any,
    connections: list[str],
) -> None:
    certificate = SelfSignedCertificate.issue("scim.example")
    fake_dns.add("scim.example", ["127.0.0.1"])
    policy = OutboundPolicy.from_entries(["127.0.0.1"])

    def answer(request: BaseHTTPRequestHandler) -> None:
        send_json(request, 200, SERVICE_PROVIDER_CONFIG)

    with fake_server(answer, tls=certificate.server_context(str(tmp_path))) as server:
        transport = GuardedTransport(policy, verify=certificate.client_context())
        base_url = server.url(host="scim.example")
        async with ScimClient(base_url, "tok-123456", transport=transport) as client:
            body = await client.get("ServiceProviderConfig")

    assert body == {"patch": {"supported": False}}
    assert server.server_names == ["scim.example"]
    assert server.received[0].headers["Host"] == f"scim.example:{server.port}"
    assert server.received[0].headers["Authorization"] == "Bearer tok-123456"
    assert connections == ["127.0.0.1"]


async def test_redirect_is_not_followed(api: GraphQLClient) -> None:
    location = "http://169.254.169.254/latest/meta-data/"

    def redirect(request: BaseHTTPRequestHandler) -> None:
        send_json(request, 302, b"", Location=location)

    application_id = await create_application(api)
    with fake_server(redirect) as server:
        data = await api(
            CONFIGURE, applicationId=application_id, baseUrl=server.url(), token="t"
        )

    payload = data["configureProvisioning"]
    assert [e["code"] for e in payload["errors"]] == ["NOT_SCIM"]
    message = payload["errors"][0]["message"]
    assert f"returned 302, a redirect to '{location}'" in message
    assert "SCIM requests do not follow redirects" in message
    assert [r.path for r in server.received] == ["/scim/ServiceProviderConfig"]


async def test_guard_refuses_redirect_target(
    fake_dns: FakeDNS, connections: list[str]
) -> None:
    # Even a client that follows redirects cannot reach what the rules refuse.
    def redirect(request: BaseHTTPRequestHandler) -> None:
        send_json(request, 302, b"", Location="http://169.254.169.254/latest")

    policy = OutboundPolicy.from_entries(["127.0.0.1"])
    with fake_server(redirect) as server:
        async with httpx.AsyncClient(
            transport=GuardedTransport(policy), follow_redirects=True
        ) as client:
            with pytest.raises(OutboundRejected) as raised:
                await client.get(server.url())

    assert "Address 169.254.169.254 is a link-local address" in raised.value.message
    assert connections == ["127.0.0.1"]
    assert len(server.received) == 1


async def test_mapped_address_refused_at_connection(
    fake_dns: FakeDNS, connections: list[str]
) -> None:
    fake_dns.add("metadata.example", ["::ffff:169.254.169.254"])
    policy = OutboundPolicy.from_entries([])

    async with ScimClient(
        "https://metadata.example/scim", "t", policy=policy
    ) as client:
        with pytest.raises(errors.ScimOutboundRejected) as raised:
            await client.get("ServiceProviderConfig")

    assert raised.value.message.startswith(
        "Host 'metadata.example' resolves to ::ffff:a9fe:a9fe, which is a form of "
        "169.254.169.254, and so a link-local address"
    )
    assert connections == []
