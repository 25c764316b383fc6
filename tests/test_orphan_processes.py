"""No process that the tests start outlives a pytest killed with SIGKILL.

Such orphans would go on taking jobs from the shared PostgreSQL and Redis, and
steal work from the runs after them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.processes import REPOSITORY, start_process

# A test run by an inner pytest, outside this suite's rootdir, so no conftest
# touches the database under test. It starts every kind of server the suite
# runs, waits until the worker processes have booted, writes the pid, start
# time and command line of each of its descendants to $PIDS_FILE, and sleeps.
INNER_TEST = textwrap.dedent(
    """
    import json
    import os
    import time
    from pathlib import Path

    from tests.support.deployment import deploy
    from tests.support.redis_server import RedisServer
    from tests.support.scim2_server import Scim2Server
    from tests.support.scimmy_server import ScimmyServer


    def descendants(pid):
        children = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += (task / "children").read_text().split()
        found = []
        for child in map(int, children):
            found += [child, *descendants(child)]
        return found


    def describe(pid):
        # The start time is field 22 of /proc/PID/stat, after the command name
        # in brackets.
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_text().replace("\\0", " ")
        return {"start_time": stat.rsplit(")", 1)[1].split()[19], "command": command}


    def test_start_servers(tmp_path, request):
        Scim2Server.start()
        ScimmyServer.start()
        redis = RedisServer.start(tmp_path / "redis.log")
        deployment = deploy(
            tmp_path, request.addfinalizer, SMARTLINK_REDIS_URL=redis.url()
        )
        deadline = time.monotonic() + 60
        while "Worker process is ready for action." not in deployment.output():
            assert time.monotonic() < deadline, deployment.output()
            time.sleep(0.1)

        pids = {pid: describe(pid) for pid in descendants(os.getpid())}
        written = Path(os.environ["PIDS_FILE"] + ".part")
        written.write_text(json.dumps(pids))
        written.replace(os.environ["PIDS_FILE"])
        time.sleep(600)
    """
)


def _is_running(pid: int, start_time: str) -> bool:
    """True while process `pid`, started at `start_time`, runs and is no zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state, *fields = stat.rsplit(")", 1)[1].split()
    # A reused pid belongs to another process, and a zombie has exited but is
    # not reaped yet.
    return fields[18] == start_time and state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_servers_die_with_pytest(tmp_path: Path) -> None:
    # Given an inner pytest whose test has started every kind of server
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    pids_file = tmp_path / "pids.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLINK_")}
    env["PYTHONPATH"] = str(REPOSITORY)
    env["PIDS_FILE"] = str(pids_file)
    with (tmp_path / "inner.log").open("wb") as log:
        inner = start_process(
            [
                *(sys.executable, "-m", "pytest", "-x", "-p", "no:cacheprovider"),
                f"--basetemp={tmp_path / 'inner'}",
            ],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while not pids_file.exists():
            output = (tmp_path / "inner.log").read_text(errors="replace")
            assert inner.poll() is None, f"The inner pytest ended:\n{output}"
            assert time.monotonic() < deadline, f"No pids after 120 s:\n{output}"
            time.sleep(0.2)
        started = {
            int(pid): process
            for pid, process in json.loads(pids_file.read_text()).items()
        }
    finally:
        # When it is killed, as a CI timeout kills it
        inner.send_signal(signal.SIGKILL)
        inner.wait(timeout=10)

    # Then each of its descendants exits within a few seconds
    commands = [process["command"] for process in started.values()]
    assert any("scim2-server" in command for command in commands)
    assert any("server.js" in command for command in commands)
    assert any("redis-server" in command for command in commands)
    assert any("smartlink serve" in command for command in commands)
    # `smartlink worker`, which execs dramatiq, and the worker process it forks
    assert sum("dramatiq" in command for command in commands) == 2
    deadline = time.monotonic() + 10
    running = dict(started)
    while running and time.monotonic() < deadline:
        time.sleep(0.1)
        running = {
            pid: process
            for pid, process in running.items()
            if _is_running(pid, process["start_time"])
        }
    assert [process["command"] for process in running.values()] == []
