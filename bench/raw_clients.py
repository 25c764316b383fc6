"""The baseline: the same SCIM user creations sent by plain httpx clients.

Two worker processes (multiprocessing, spawned once) each send half of the
POSTs, with either one `httpx.AsyncClient` and N tasks or N threads with one
`httpx.Client` each. N is the concurrency per process, so 2N requests are in
flight at most. The sweep keeps the best rate, which is also the most the stub
target was seen to take.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx

PROCESSES = 2
#: Seconds one request may take before it counts as failed.
REQUEST_TIMEOUT = 10.0
#: Seconds the whole of one sweep step may take before the sweep gives up.
STEP_TIMEOUT = 180.0
#: Seconds between sending a step to the processes and their common start.
START_DELAY = 0.3


@dataclass(frozen=True)
class Step:
    mode: str  # "async" or "threads"
    concurrency: int
    url: str
    token: str
    payloads: list[dict[str, Any]]
    start_at: float


@dataclass(frozen=True)
class StepResult:
    mode: str
    concurrency: int
    requests: int
    failures: int
    seconds: float
    #: CPU time the client processes and the stub spent on the step.
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return (self.requests - self.failures) / self.seconds


def _send_async(step: Step) -> tuple[float, int]:
    async def run() -> int:
        pending: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for payload in step.payloads:
            pending.put_nowait(payload)
        failures = 0
        limits = httpx.Limits(
            max_connections=step.concurrency,
            max_keepalive_connections=step.concurrency,
        )
        headers = {"Authorization": f"Bearer {step.token}"}
        async with httpx.AsyncClient(
            limits=limits, headers=headers, timeout=REQUEST_TIMEOUT
        ) as client:

            async def sender() -> None:
                nonlocal failures
                while not pending.empty():
                    payload = pending.get_nowait()
                    try:
                        response = await client.post(step.url, json=payload)
                        failures += response.status_code != 201
                    except httpx.HTTPError:
                        failures += 1

            await asyncio.sleep(max(0.0, step.start_at - time.time()))
            await asyncio.gather(*(sender() for _ in range(step.concurrency)))
        return failures

    failures = asyncio.run(run())
    return time.time(), failures


def _send_threaded(step: Step) -> tuple[float, int]:
    pending: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
    for payload in step.payloads:
        pending.put(payload)
    failures = []
    headers = {"Authorization": f"Bearer {step.token}"}

    def sender() -> None:
        count = 0
        with httpx.Client(headers=headers, timeout=REQUEST_TIMEOUT) as client:
            time.sleep(max(0.0, step.start_at - time.time()))
            while True:
                try:
                    payload = pending.get_nowait()
                except queue.Empty:
                    break
                try:
                    count += client.post(step.url, json=payload).status_code != 201
                except httpx.HTTPError:
                    count += 1
        failures.append(count)

    threads = [threading.Thread(target=sender) for _ in range(step.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.time(), sum(failures)


def _serve_steps(connection: Connection) -> None:
    """Run the steps the parent sends until it sends None."""
    while True:
        step = connection.recv()
        if step is None:
            return
        send = _send_async if step.mode == "async" else _send_threaded
        connection.send(send(step))


class RawClients:
    """A pair of spawned processes that send POSTs on request."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._processes = []
        for _ in range(PROCESSES):
            parent_end, child_end = context.Pipe()
            process = context.Process(target=_serve_steps, args=(child_end,))
            process.daemon = True
            process.start()
            self._pipes.append(parent_end)
            self._processes.append(process)

    def run(
        self,
        mode: str,
        concurrency: int,
        url: str,
        token: str,
        payloads: list[dict[str, Any]],
    ) -> StepResult:
        """POST `payloads` to `url` split over the processes; time the whole."""
        start_at = time.time() + START_DELAY
        share = -(-len(payloads) // PROCESSES)
        for index, pipe in enumerate(self._pipes):
            part = payloads[index * share : (index + 1) * share]
            pipe.send(Step(mode, concurrency, url, token, part, start_at))

        ends, failures = [], 0
        for pipe in self._pipes:
            if not pipe.poll(STEP_TIMEOUT):
                raise TimeoutError(
                    f"{mode} step at concurrency {concurrency} took over "
                    f"{STEP_TIMEOUT:.0f} s."
                )
            end, failed = pipe.recv()
            ends.append(end)
            failures += failed
        return StepResult(
            mode, concurrency, len(payloads), failures, max(ends) - start_at
        )

    def close(self) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(BrokenPipeError, OSError):
                pipe.send(None)
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
