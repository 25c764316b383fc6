"""CPU time per POST of httpx clients, by requests in flight, in one process.

Starts the bench stub on 127.0.0.1, then sends `--requests` creations through
one `httpx.AsyncClient` for each concurrency of `--async`, and through threads
with an `httpx.Client` each for each thread count of `--threads`. Prints this
process's CPU time per request (`time.process_time`, so the stub's own time is
left out) and the rate. It shows why a batch job keeps few POSTs in flight.

Run: `.venv/bin/python -m bench.client_cost`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.processes import Child, free_port
from bench.run import wait_for_health

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def _body() -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA], "userName": f"user-{uuid.uuid4()}"}


async def _send_async(
    url: str, headers: dict[str, str], count: int, inflight: int
) -> None:
    limit = asyncio.Semaphore(inflight)
    async with httpx.AsyncClient(headers=headers) as client:

        async def send_one() -> None:
            async with limit:
                response = await client.post(url, json=_body())
                response.raise_for_status()

        async with asyncio.TaskGroup() as group:
            for _ in range(count):
                group.create_task(send_one())


def _send_threaded(url: str, headers: dict[str, str], count: int, threads: int) -> None:
    def send_share(share: int) -> None:
        with httpx.Client(headers=headers) as client:
            for _ in range(share):
                client.post(url, json=_body()).raise_for_status()

    workers = [
        threading.Thread(target=send_share, args=(count // threads,))
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def _measure(label: str, count: int, send: Callable[[int], None]) -> None:
    send(min(count, 100))  # warm up connections and imports
    cpu, wall = time.process_time(), time.monotonic()
    send(count)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    print(
        f"{label:<12} {cpu / count * 1000:6.3f} ms CPU per request, "
        f"{count / wall:6.0f} requests/s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="POSTs per step.")
    parser.add_argument(
        "--async",
        dest="inflight",
        default="1,2,4,8,16",
        help="Requests in flight of the async client, comma-separated.",
    )
    parser.add_argument(
        "--threads", default="1,4,8", help="Thread counts, comma-separated."
    )
    args = parser.parse_args()

    token = secrets.token_urlsafe(16)
    port = free_port()
    command = (
        sys.executable,
        "-m",
        "bench.scim_stub",
        "--port",
        str(port),
        f"--token={token}",
    )
    log = Path(tempfile.mkdtemp(prefix="smartlink-client-cost-")) / "scim-stub.log"
    stub = Child("scim-stub", command, dict(os.environ), log)
    try:
        wait_for_health(f"http://127.0.0.1:{port}/healthz", stub)
        url = f"http://127.0.0.1:{port}/tenants/cost/Users"
        headers = {"Authorization": f"Bearer {token}"}
        for inflight in (int(value) for value in args.inflight.split(",")):
            _measure(
                f"async x{inflight}",
                args.requests,
                lambda count, n=inflight: asyncio.run(
                    _send_async(url, headers, count, n)
                ),
            )
        for threads in (int(value) for value in args.threads.split(",")):
            _measure(
                f"threads x{threads}",
                args.requests,
                lambda count, n=threads: _send_threaded(url, headers, count, n),
            )
    finally:
        stub.stop()


if __name__ == "__main__":
    main()
