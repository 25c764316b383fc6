"""Child processes of the benchmark: start, wait for, measure and stop them.

Each child starts in its own session, so it and every process it forks (the
Dramatiq workers) share one process group that can be signalled at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

#: Seconds a process group has to exit after SIGTERM before it gets SIGKILL.
STOP_GRACE = 10.0

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Child:
    """A command running in its own process group, with its output in a file."""

    def __init__(
        self, name: str, command: Sequence[str], env: dict[str, str], log: Path
    ) -> None:
        self.name = name
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            list(command),
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pgid(self) -> int:
        return self.process.pid

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise RuntimeError(
                f"{self.name} exited with status {code}; see its output in {self.log}."
            )

    def stop(self) -> None:
        """Send SIGTERM to the group, then SIGKILL to what is left after a grace."""
        self._signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline and group_members(self.pgid):
            self.process.poll()
            time.sleep(0.1)
        if group_members(self.pgid):
            self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_GRACE)
        self._log_file.close()

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signum)


def _read_stat(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in brackets and may contain spaces.
    name = text[text.index("(") + 1 : text.rindex(")")]
    return [pid, name, *text[text.rindex(")") + 2 :].split()]


def _all_stats() -> list[list[str]]:
    stats = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _read_stat(entry)
            if stat is not None:
                stats.append(stat)
    return stats


def group_members(pgid: int) -> list[int]:
    """Return the live (not zombie) processes of a process group."""
    return [
        int(stat[0]) for stat in _all_stats() if stat[4] == str(pgid) and stat[2] != "Z"
    ]


def machine_cpu_seconds() -> float:
    """CPU time all cores spent busy since boot, per the `cpu` line of /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def cpu_seconds(pgids: dict[str, int], names: Sequence[str]) -> dict[str, float]:
    """CPU time (user + system) so far of each process group and each command name.

    Counts live processes only, so compare two readings taken while the same
    processes run: a PostgreSQL backend that exits in between takes its time
    with it. Per /proc/PID/stat, field 5 is the group and 14 and 15 the times.
    The `machine` entry is the busy time of all cores.
    """
    totals = {label: 0.0 for label in [*pgids, *names]}
    totals["machine"] = machine_cpu_seconds()
    groups = {str(pgid): label for label, pgid in pgids.items()}
    for stat in _all_stats():
        seconds = (int(stat[13]) + int(stat[14])) / CLOCK_TICKS
        label = groups.get(stat[4])
        if label is None and stat[1] in names:
            label = stat[1]
        if label is not None:
            totals[label] += seconds
    return totals
