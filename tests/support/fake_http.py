"""Scripted HTTP(S) servers on 127.0.0.1, for faults real SCIM servers cannot
produce on demand: redirects, huge or slow bodies, echoed tokens.

Each server runs in a thread, responds to every request with the test's
handler, and records what it received, including the TLS server name (SNI).
"""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeServer:
    port: int
    scheme: str
    received: list[Received] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)

    def url(self, host: str = "127.0.0.1", path: str = "/scim") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


@dataclass
class SelfSignedCertificate:
    """A self-signed certificate for one host name, and a client context trusting it."""

    host: str
    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def issue(cls, host: str) -> SelfSignedCertificate:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256())
        )
        return cls(
            host=host,
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.cert_pem.decode())

    def server_context(self, tmp_dir: str) -> ssl.SSLContext:
        cert_path = f"{tmp_dir}/cert.pem"
        key_path = f"{tmp_dir}/key.pem"
        with open(cert_path, "wb") as file:
            file.write(self.cert_pem)
        with open(key_path, "wb") as file:
            file.write(self.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        return context


@contextmanager
def fake_server(
    handler: Handler, *, tls: ssl.SSLContext | None = None
) -> Iterator[FakeServer]:
    """Serve `handler` on 127.0.0.1 (over TLS with `tls`) for the block's length."""
    state = FakeServer(port=0, scheme="https" if tls else "http")

    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            state.received.append(
                Received(self.command, self.path, dict(self.headers.items()))
            )
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            handler(self)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
    server.daemon_threads = True
    if tls is not None:
        tls.sni_callback = lambda _sock, name, _ctx: state.server_names.append(name)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def send_json(
    request: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str
) -> None:
    """Send `body` as a SCIM JSON response, with any extra headers."""
    request.send_response(status)
    request.send_header("Content-Type", "application/scim+json")
    request.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        request.send_header(name.replace("_", "-"), value)
    request.end_headers()
    request.wfile.write(body)
