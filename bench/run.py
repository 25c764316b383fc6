"""Benchmark automatic provisioning against plain httpx clients on one machine.

Usage: `make bench`, or `.venv/bin/python -m bench.run --help`. It needs the
PostgreSQL and Redis of the README's test set-up; it wipes the schema of its
database and its Redis database. See bench/README.md for what it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.processes import Child, cpu_seconds, free_port
from bench.raw_clients import RawClients, StepResult

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

#: Seconds a started server has to pass its health check.
START_TIMEOUT = 60.0
#: Seconds one single grant may take to reach the stub. It exceeds the
#: outbox's 30 s re-publication delay, so an event whose job was stranded
#: shows up as a latency instead of a failed run.
SINGLE_TIMEOUT = 90.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/smartlink_bench",
        help="Database to use; its schema is dropped and recreated.",
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/13",
        help="Redis database to use; it is flushed first.",
    )
    parser.add_argument("--users", type=int, default=2000, help="Grants to time.")
    parser.add_argument(
        "--latency-samples", type=int, default=100, help="Single grants to time."
    )
    parser.add_argument(
        "--folder-users",
        type=int,
        default=2000,
        help="Members of the folder that gains the application in the second "
        "scenario; 0 skips it.",
    )
    parser.add_argument(
        "--bulk-users",
        type=int,
        default=2000,
        help="Users granted access with grantAccessToUsers in the third scenario; "
        "0 skips it.",
    )
    parser.add_argument(
        "--grant-concurrency",
        type=int,
        default=16,
        help="grantAccess requests in flight at once.",
    )
    parser.add_argument(
        "--worker-processes", type=int, default=2, help="smartlink worker --processes."
    )
    parser.add_argument(
        "--worker-threads", type=int, default=8, help="smartlink worker --threads."
    )
    parser.add_argument(
        "--sweep",
        default="1,2,4,8,16,32",
        help="Concurrencies per process of the plain httpx clients, comma-separated.",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="Seconds each measured phase may take before the run fails.",
    )
    parser.add_argument(
        "--log-level", default="INFO", help="SMARTLINK_LOG_LEVEL of serve and worker."
    )
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument(
        "--keep-logs", action="store_true", help="Keep the servers' output files."
    )
    return parser.parse_args()


def product_environment(args: argparse.Namespace, data_dir: str) -> dict[str, str]:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return {
        "SMARTLINK_DATABASE_URL": args.database_url,
        "SMARTLINK_REDIS_URL": args.redis_url,
        "SMARTLINK_OUTBOUND_ALLOW": "127.0.0.1",
        "SMARTLINK_DATA_DIR": data_dir,
        "SMARTLINK_ENCRYPTION_KEY": key,
        "SMARTLINK_LOG_LEVEL": args.log_level,
    }


def wait_for_health(url: str, child: Child) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        child.check_alive()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(
        f"{child.name} did not respond at {url} within {START_TIMEOUT} s."
    )


def wait_for_workers(client: redis.Redis, count: int, child: Child) -> None:
    """Wait until `count` Dramatiq worker processes have fetched from Redis.

    Each process's consumer writes its heartbeat at every fetch.
    """
    deadline = time.monotonic() + START_TIMEOUT
    while client.zcard("dramatiq:__heartbeats__") < count:
        child.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} workers did not start in {START_TIMEOUT} s.")
        time.sleep(0.1)


def sweep_raw_clients(
    args: argparse.Namespace, stub_url: str, token: str, stub_pgid: int
) -> list[StepResult]:
    from domain.scim.payloads import user_payload

    def payloads(tenant: str) -> list[dict[str, Any]]:
        return [
            user_payload(
                email=f"{tenant}-{index:05d}@example.com",
                given_name="Bench",
                family_name=f"User {index}",
                display_name=f"Bench User {index}",
                active=True,
                external_id=f"00000000-0000-4000-8000-{index:012d}",
            )
            for index in range(args.users)
        ]

    clients = RawClients()
    results = []
    try:
        for mode in ("async", "threads"):
            for concurrency in [int(c) for c in args.sweep.split(",")]:
                tenant = f"raw-{mode}-{concurrency}"
                url = f"{stub_url}/tenants/{tenant}/Users"
                groups = {"stub": stub_pgid, "bench": os.getpgrp()}
                before, started = cpu_seconds(groups, []), time.monotonic()
                result = clients.run(mode, concurrency, url, token, payloads(tenant))
                after, elapsed = cpu_seconds(groups, []), time.monotonic() - started
                httpx.delete(f"{stub_url}/_bench/{tenant}")
                spent = {label: after[label] - before[label] for label in after}
                result = replace(result, cpu_seconds=spent["stub"] + spent["bench"])
                results.append(result)
                cores = {
                    label: (after[label] - before[label]) / elapsed for label in after
                }
                others = cores["machine"] - cores["stub"] - cores["bench"]
                print(
                    f"  {mode:7} x{concurrency:<3} {result.rate:7.0f} creates/s "
                    f"({result.failures} failed); cores busy: stub "
                    f"{cores['stub']:.2f}, clients {cores['bench']:.2f}, "
                    f"others {others:.2f}",
                    flush=True,
                )
    finally:
        clients.close()
    return results


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of `values`."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def machine_facts() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_average_at_start": os.getloadavg()[0],
    }


class Bench:
    """Owns the child processes and temporary files of one run."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.machine = machine_facts()
        self.children: list[Child] = []
        self.workdir = Path(tempfile.mkdtemp(prefix="smartlink-bench-"))
        self.stub_token = secrets.token_urlsafe(16)
        data_dir = self.workdir / "data"
        data_dir.mkdir()
        self.env = product_environment(args, str(data_dir))
        # The fast path imports the product, which reads settings once.
        os.environ.update(self.env)

    def start(self, name: str, *command: str) -> Child:
        env = {**os.environ, **self.env}
        child = Child(name, command, env, self.workdir / f"{name}.log")
        self.children.append(child)
        return child

    def close(self, failed: bool) -> None:
        """Stop the servers; keep their output when asked to or when the run failed."""
        for child in reversed(self.children):
            child.stop()
        if self.args.keep_logs or failed:
            print(f"Server output kept in {self.workdir}.")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def run(self) -> dict[str, Any]:
        from bench import product

        args = self.args
        asyncio.run(product.reset_schema(args.database_url))
        redis_client = redis.Redis.from_url(args.redis_url)
        redis_client.flushdb()

        stub_port = free_port()
        stub = self.start(
            "scim-stub",
            sys.executable,
            "-m",
            "bench.scim_stub",
            "--port",
            str(stub_port),
            # One argument, because a token that starts with "-" would
            # otherwise read as an option.
            f"--token={self.stub_token}",
        )
        stub_url = f"http://127.0.0.1:{stub_port}"
        wait_for_health(f"{stub_url}/healthz", stub)

        print("Plain httpx clients against the stub:", flush=True)
        sweep = sweep_raw_clients(args, stub_url, self.stub_token, stub.pgid)
        best = max(sweep, key=lambda result: result.rate)

        print("Starting smartlink worker and serve.", flush=True)
        token = self._create_token()
        worker = self.start(
            "worker",
            str(BIN / "smartlink"),
            "worker",
            "--processes",
            str(args.worker_processes),
            "--threads",
            str(args.worker_threads),
        )
        wait_for_workers(redis_client, args.worker_processes, worker)
        api_port = free_port()
        serve = self.start(
            "serve", str(BIN / "smartlink"), "serve", "--port", str(api_port)
        )
        wait_for_health(f"http://127.0.0.1:{api_port}/healthz", serve)

        groups = {
            "serve": serve.pgid,
            "worker": worker.pgid,
            "stub": stub.pgid,
            "bench": os.getpgrp(),
        }
        figures = asyncio.run(
            self._measure_product(
                f"http://127.0.0.1:{api_port}", stub_url, token, groups
            )
        )
        # Dramatiq's Redis broker keeps each queued message in this hash until
        # a worker acknowledges it; after the outbox settled, what remains are
        # duplicate copies of jobs already done.
        leftover = redis_client.hlen("dramatiq:default.msgs")
        return {
            "jobs_left_in_queue": leftover,
            "machine": self.machine,
            "raw_sweep": [asdict(result) | {"rate": result.rate} for result in sweep],
            "raw_best": asdict(best) | {"rate": best.rate},
            **figures,
        }

    def _create_token(self) -> str:
        import subprocess

        output = subprocess.run(
            [str(BIN / "smartlink"), "create-token", "bench"],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=True,
            timeout=START_TIMEOUT,
        ).stdout
        return output.strip().splitlines()[-1]

    async def _measure_product(
        self, api_url: str, stub_url: str, token: str, groups: dict[str, int]
    ) -> dict[str, Any]:
        from bench import product
        from domain.db import dispose_engines

        args = self.args
        tenant = "product"
        limits = httpx.Limits(max_connections=args.grant_concurrency)
        async with (
            httpx.AsyncClient(
                base_url=api_url,
                headers={"Authorization": f"Bearer {token}"},
                limits=limits,
                timeout=60,
            ) as http,
            httpx.AsyncClient(base_url=stub_url, timeout=10) as stub,
        ):
            api = product.GraphQLClient(http)
            application_id = await product.set_up_application(
                api, f"{stub_url}/tenants/{tenant}", self.stub_token
            )
            print(f"Creating {args.users} users in the database.", flush=True)
            users = await product.create_users(args.users, "grant")
            samples = await product.create_users(args.latency_samples, "single")

            print(f"Granting access to {args.users} users.", flush=True)
            names = ["postgres", "redis-server"]
            sessions_before = await product.database_sessions()
            cpu_before, started = cpu_seconds(groups, names), time.monotonic()
            throughput = await product.measure_throughput(
                api,
                stub,
                tenant,
                application_id,
                users,
                args.grant_concurrency,
                args.timeout,
            )
            cpu_after, elapsed = cpu_seconds(groups, names), time.monotonic() - started
            await self._wait_for_outbox(args.users)

            print(f"Timing {args.latency_samples} single grants.", flush=True)
            latencies = await product.measure_latencies(
                api, stub, tenant, application_id, samples, 0.1, SINGLE_TIMEOUT
            )
            await self._wait_for_outbox(args.users + args.latency_samples)
            sessions_after = await product.database_sessions()
            folder = await self._measure_folder(api, stub, stub_url, groups)
            bulk = await self._measure_bulk(api, stub, stub_url, groups)
            outbox = await product.outbox_counts()
        await dispose_engines()

        return {
            "product": asdict(throughput)
            | {"rate": throughput.rate, "grant_rate": throughput.grant_rate},
            "cpu_seconds": {
                label: cpu_after[label] - cpu_before[label] for label in cpu_after
            },
            "cpu_window_seconds": elapsed,
            "database_sessions": sessions_after - sessions_before,
            "latency": {
                "samples": len(latencies),
                "p50": percentile(latencies, 0.50),
                "p95": percentile(latencies, 0.95),
                "p99": percentile(latencies, 0.99),
                "max": max(latencies),
                "mean": statistics.fmean(latencies),
            },
            "outbox": outbox,
            "folder": folder,
            "bulk": bulk,
            "settings": {
                "worker_processes": args.worker_processes,
                "worker_threads": args.worker_threads,
                "grant_concurrency": args.grant_concurrency,
                "users": args.users,
                "bulk_users": args.bulk_users,
            },
        }

    async def _measure_folder(
        self, api: Any, stub: httpx.AsyncClient, stub_url: str, groups: dict[str, int]
    ) -> dict[str, Any] | None:
        """Time a folder of `--folder-users` members gaining a second application."""
        from bench import product

        members = self.args.folder_users
        if members <= 0:
            return None
        tenant = "folder"
        application_id = await product.set_up_application(
            api, f"{stub_url}/tenants/{tenant}", self.stub_token, name="Bench folder"
        )
        print(f"Creating a folder of {members} users.", flush=True)
        folder_id = await product.create_folder_with_users(members, "member")

        print("Adding the application to the folder.", flush=True)
        return await self._measure_one_shot(
            groups,
            members,
            product.measure_folder_gain(
                api,
                stub,
                tenant,
                application_id,
                folder_id,
                members,
                self.args.timeout,
            ),
        )

    async def _measure_bulk(
        self, api: Any, stub: httpx.AsyncClient, stub_url: str, groups: dict[str, int]
    ) -> dict[str, Any] | None:
        """Time `--bulk-users` users granted access to a third application in bulk."""
        from bench import product

        count = self.args.bulk_users
        if count <= 0:
            return None
        tenant = "bulk"
        application_id = await product.set_up_application(
            api, f"{stub_url}/tenants/{tenant}", self.stub_token, name="Bench bulk"
        )
        print(f"Creating {count} users in the database.", flush=True)
        users = await product.create_users(count, "bulk")

        print(f"Granting access to {count} users with grantAccessToUsers.", flush=True)
        figures = await self._measure_one_shot(
            groups,
            count,
            product.measure_bulk_grants(
                api, stub, tenant, application_id, users, self.args.timeout
            ),
        )
        return figures | {"users_per_call": product.BULK_GRANT_SIZE}

    async def _measure_one_shot(
        self,
        groups: dict[str, int],
        accounts: int,
        measurement: Awaitable[Any],
    ) -> dict[str, Any]:
        """Run `measurement` with the CPU time of every process counted."""
        from bench import product

        done_before = (await product.outbox_counts()).get("DONE", 0)
        names = ["postgres", "redis-server"]
        cpu_before = cpu_seconds(groups, names)
        gain = await measurement
        cpu_after = cpu_seconds(groups, names)
        await self._wait_for_outbox(done_before + accounts)
        return asdict(gain) | {
            "rate": gain.rate,
            "total_rate": gain.total_rate,
            "cpu_seconds": {
                label: cpu_after[label] - cpu_before[label] for label in cpu_after
            },
        }

    async def _wait_for_outbox(self, expected_done: int) -> None:
        """Wait until `expected_done` events are DONE, so phases do not overlap."""
        from bench import product

        deadline = time.monotonic() + self.args.timeout
        while (await product.outbox_counts()).get("DONE", 0) < expected_done:
            for child in self.children:
                child.check_alive()
            if time.monotonic() > deadline:
                counts = await product.outbox_counts()
                raise TimeoutError(f"Outbox did not settle: {counts}.")
            await asyncio.sleep(0.1)


def print_report(figures: dict[str, Any]) -> None:
    machine = figures["machine"]
    best = figures["raw_best"]
    product = figures["product"]
    latency = figures["latency"]
    settings = figures["settings"]
    ratio = product["rate"] / best["rate"]
    print()
    print(
        f"Machine: {machine['cores']} cores ({machine['cpu']}), "
        f"Python {machine['python']}, {machine['system']}; "
        f"load average {machine['load_average_at_start']:.2f} at start"
    )
    print(
        f"Plain httpx, best of sweep: {best['rate']:.0f} creates/s "
        f"({best['mode']}, concurrency {best['concurrency']} x 2 processes)"
    )
    print(
        f"SmartLink automatic:        {product['rate']:.0f} accounts/s "
        f"({product['accounts']} accounts in {product['seconds']:.2f} s; "
        f"worker {settings['worker_processes']} processes x "
        f"{settings['worker_threads']} threads)"
    )
    print(
        f"  grantAccess answered at {product['grant_rate']:.0f}/s "
        f"({settings['grant_concurrency']} in flight); "
        f"409 conflicts at the stub: {product['conflicts']}"
    )
    print_costs(figures)
    print(f"Ratio SmartLink / plain httpx: {ratio:.2f}")
    print(
        f"Commit-to-target latency of {latency['samples']} single grants: "
        f"p50 {latency['p50'] * 1000:.0f} ms, p95 {latency['p95'] * 1000:.0f} ms, "
        f"p99 {latency['p99'] * 1000:.0f} ms, max {latency['max'] * 1000:.0f} ms"
    )
    if figures.get("folder"):
        print_one_shot(
            "Folder gaining the application", figures["folder"], best["rate"]
        )
    if figures.get("bulk"):
        size = figures["bulk"]["users_per_call"]
        print_one_shot(
            f"Bulk grants ({size} users per grantAccessToUsers)",
            figures["bulk"],
            best["rate"],
        )
    print(
        f"Outbox events by status: {figures['outbox']}; jobs still queued: "
        f"{figures['jobs_left_in_queue']}"
    )


def print_costs(figures: dict[str, Any]) -> None:
    """Print the CPU time each side spent, per second and per account."""
    best = figures["raw_best"]
    product = figures["product"]
    cpu = dict(figures["cpu_seconds"])
    machine_busy = cpu.pop("machine")
    cpu["others"] = machine_busy - sum(cpu.values())
    window = figures["cpu_window_seconds"]
    cores = ", ".join(
        f"{label} {seconds / window:.2f}" for label, seconds in cpu.items()
    )
    print(f"  CPU cores busy meanwhile: {cores}")
    per_account = ", ".join(
        f"{label} {cpu[label] / product['accounts'] * 1000:.1f}"
        for label in ("serve", "worker", "postgres")
    )
    print(
        f"  CPU ms per account: {per_account}; "
        f"database sessions opened: {figures['database_sessions']}"
    )
    plain_cost = best["cpu_seconds"] / best["requests"]
    del cpu["others"]
    product_cost = sum(cpu.values()) / product["accounts"]
    print(
        f"CPU per account: plain httpx {plain_cost * 1000:.1f} ms (clients and "
        f"stub), SmartLink {product_cost * 1000:.1f} ms (every process above but "
        f"others); ratio {plain_cost / product_cost:.2f}"
    )


def print_one_shot(title: str, gain: dict[str, Any], plain_rate: float) -> None:
    """Print a scenario in which few mutations give many users access."""
    cpu = gain["cpu_seconds"]
    per_account = ", ".join(
        f"{label} {cpu[label] / gain['accounts'] * 1000:.1f}"
        for label in ("serve", "worker", "postgres")
    )
    print(
        f"{title}: {gain['total_rate']:.0f} accounts/s from the first request "
        f"({gain['accounts']} accounts in {gain['total_seconds']:.2f} s; the "
        f"mutations took {gain['mutation_seconds']:.2f} s); ratio to plain httpx "
        f"{gain['total_rate'] / plain_rate:.2f}"
    )
    print(
        f"  from the commit: {gain['rate']:.0f} accounts/s "
        f"({gain['seconds']:.2f} s); ratio to plain httpx "
        f"{gain['rate'] / plain_rate:.2f}"
    )
    print(
        f"  CPU ms per account: {per_account}; "
        f"409 conflicts at the stub: {gain['conflicts']}"
    )


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    os.chdir(REPO)
    bench = Bench(args)
    failed = True
    try:
        figures = bench.run()
        failed = False
    except KeyboardInterrupt:
        print("Interrupted; stopping the servers.", file=sys.stderr)
        return 130
    finally:
        bench.close(failed)
    print_report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
