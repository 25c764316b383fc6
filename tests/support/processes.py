"""Subprocesses of the tests, and the `smartlink` command run as a deployment runs it.

Every test starts its processes through `start_process` or `run_process`, so
that none outlives a pytest that is killed and cannot stop them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from jobs.parent_death import set_parent_death_signal

SMARTLINK = str(Path(sys.executable).parent / "smartlink")
REPOSITORY = Path(__file__).resolve().parents[2]


def _kill_with_parent(parent_pid: int) -> Callable[[], None]:
    """Return a `preexec_fn` that has the child killed when `parent_pid` exits.

    It runs in the child between fork and exec, so it calls only functions
    resolved before the fork. A parent that exited before the call makes the
    child exit at once.
    """

    def preexec() -> None:
        set_parent_death_signal(signal.SIGKILL)
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def start_process(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start `subprocess.Popen(args, **kwargs)`, killed with SIGKILL when pytest exits.

    On Linux the kernel kills the child when the *thread* that started it
    exits, so call this from the main thread, as fixtures and async tests do,
    never from `asyncio.to_thread` or another short-lived thread. The child's
    own children are not covered: start the real program rather than a
    wrapper such as `make` or `npx`, or have the program set it for its
    children, as `smartlink worker` does for its worker processes.
    """
    return subprocess.Popen(args, preexec_fn=_kill_with_parent(os.getpid()), **kwargs)


def run_process(args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """Run `subprocess.run(args, **kwargs)`, its process killed when pytest exits.

    Unlike `start_process`, it may run in a worker thread, because the thread
    waits for the process to end before it can exit.
    """
    return subprocess.run(args, preexec_fn=_kill_with_parent(os.getpid()), **kwargs)


def smartlink_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """Return this process's environment without its `SMARTLINK_*` variables,
    plus `SMARTLINK_DATA_DIR` and `settings`, so the suite's own settings (its
    encryption key, its allow-list) leak into no subprocess by accident."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLINK_")}
    env["SMARTLINK_DATA_DIR"] = str(data_dir)
    env.update(settings)
    return env


def run_smartlink(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run one `smartlink` command to its end, in the data folder's parent, so
    that nothing depends on running from the repository."""
    return run_process(
        [SMARTLINK, *args],
        env=env,
        cwd=Path(env["SMARTLINK_DATA_DIR"]).parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Service:
    """A long-running `smartlink` command whose stdout and stderr go to a file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(
        cls, name: str, args: list[str], env: dict[str, str], log_path: Path
    ) -> Service:
        with log_path.open("wb") as log:
            # A session of its own lets `stop` kill the workers a command forks.
            process = start_process(
                [SMARTLINK, *args],
                env=env,
                cwd=log_path.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name=name, process=process, log_path=log_path)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_running(self) -> None:
        code = self.process.poll()
        assert code is None, (
            f"{self.name} exited with status {code}; its output:\n{self.output()}"
        )

    def wait_for_http(self, url: str, timeout: float = 30) -> None:
        """Poll `url` until it returns 200, failing early if the process exits."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_running()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (
                f"{self.name} did not answer {url} within {timeout} s; its output:\n"
                f"{self.output()}"
            )
            time.sleep(0.1)

    def stop(self) -> None:
        """Send SIGTERM to the process, and SIGKILL to its group after 20 s.

        SIGTERM goes to the leader alone, because `smartlink worker` passes it
        on to the workers it forks and takes a second one as an order to kill
        them. SIGKILL goes to the whole group only while the leader runs, so
        the group id cannot have been reused.
        """
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
