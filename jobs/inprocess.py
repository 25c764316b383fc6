"""The in-process worker that runs jobs when no Redis broker is configured."""

from __future__ import annotations

import logging

from dramatiq import Worker

from jobs import actors as _actors  # noqa: F401  (declares the actors)
from jobs.broker import broker

logger = logging.getLogger(__name__)

#: Threads of the in-process worker; jobs are I/O bound and few at a time.
WORKER_THREADS = 4


def start_worker() -> Worker:
    worker = Worker(broker, worker_threads=WORKER_THREADS, worker_timeout=100)
    worker.start()
    logger.info("In-process job worker started with %d threads.", WORKER_THREADS)
    return worker


def stop_worker(worker: Worker) -> None:
    worker.stop()
    logger.info("In-process job worker stopped.")
