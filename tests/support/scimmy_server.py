"""A SCIMMY-based SCIM target (tests/support/scimmy/server.js), run on loopback.

SCIMMY and scimmy-routers are a Node.js implementation written by others, so
the product meets a second reading of RFC 7644 besides scim2-server's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.support.processes import run_process, start_process
from tests.support.scim2_server import ScimTenant, free_port, wait_for_port

SCIMMY_DIR = Path(__file__).parent / "scimmy"
TOKEN = "scimmy-target-token-" + uuid.uuid4().hex


def install_packages() -> None:
    """Install the server's npm packages, unless node_modules exists already.

    `npm ci` installs exactly the versions of package-lock.json.
    """
    if (SCIMMY_DIR / "node_modules").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "npm was not found; install Node.js 16 or newer, with npm, to run the "
            "SCIMMY tests."
        )
    command = "ci" if (SCIMMY_DIR / "package-lock.json").exists() else "install"
    run_process(
        [npm, command, "--no-audit", "--no-fund"],
        cwd=SCIMMY_DIR,
        check=True,
        stdout=subprocess.DEVNULL,
    )


@dataclass
class ScimmyServer:
    process: subprocess.Popen[bytes]
    port: int
    log: IO[bytes]
    token: str = TOKEN

    @classmethod
    def start(cls) -> ScimmyServer:
        install_packages()
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node was not found; install Node.js 16 or newer.")

        port = free_port()
        log = tempfile.TemporaryFile()  # noqa: SIM115  (closed by stop)
        process = start_process(
            [node, "server.js", str(port)],
            cwd=SCIMMY_DIR,
            env={**os.environ, "SCIM_TOKEN": TOKEN},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = cls(process=process, port=port, log=log)
        server._wait_until_listening()
        return server

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 15
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                wait_for_port(self.port, timeout=0.5)
                return
            except TimeoutError:
                continue
        self.log.seek(0)
        output = self.log.read().decode(errors="replace")
        self.stop()
        raise RuntimeError(f"The SCIMMY target did not start:\n{output}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.log.close()

    def tenant(self) -> ScimTenant:
        """Return a tenant of its own, so each test starts with no resources."""
        return ScimTenant(
            f"http://127.0.0.1:{self.port}/t{uuid.uuid4().hex[:12]}/scim/v2",
            self.token,
        )
