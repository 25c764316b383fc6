"""A private `redis-server` on loopback, for tests that kill, stop or freeze it.

The machine's shared Redis must stay up for other test runs, so outage tests
start their own server on a free port. Persistence is off, so a restarted
server starts empty, as a crashed Redis without a dump or append-only file
does.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.processes import start_process
from tests.support.scim2_server import free_port, wait_for_port


@dataclass
class RedisServer:
    """A `redis-server` process that a test may kill, restart and pause."""

    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @classmethod
    def start(cls, log_path: Path) -> RedisServer:
        server = cls(port=free_port(), log_path=log_path)
        server.restart()
        return server

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def restart(self) -> None:
        """Start the server on its port again, empty; it must not be running."""
        assert self.process is None or self.process.poll() is not None, (
            f"redis-server on port {self.port} is still running; kill it first."
        )
        executable = shutil.which("redis-server")
        assert executable is not None, (
            "redis-server is not on PATH; install Redis (Debian package "
            "redis-server) to run the outage tests."
        )
        with self.log_path.open("ab") as log:
            self.process = start_process(
                [
                    executable,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.log_path.parent),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port)
        self._wait_until_answering()

    def kill(self) -> None:
        """Kill the server with SIGKILL, losing every message it held."""
        process = self._running()
        process.kill()
        process.wait(timeout=10)

    def pause(self) -> None:
        """Freeze the server with SIGSTOP: connections open, but no reply comes."""
        self._running().send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again with SIGCONT."""
        self._running().send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """End the server for good; safe when it is paused or already dead."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def _running(self) -> subprocess.Popen[bytes]:
        assert self.process is not None and self.process.poll() is None, (
            f"redis-server on port {self.port} is not running."
        )
        return self.process

    def _wait_until_answering(self) -> None:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
        try:
            assert client.ping()
        finally:
            client.close()
