"""Attentions service benchmark: create and list attentions at 32 concurrent clients, beside bare asyncpg.

    python3 -m uv run python benchmarks/attentions_bench.py [--creates 6000] [--lists 3000] [--concurrency 32]
        [--processes 1] [--split]

One run, one box, one PostgreSQL, one broker:
- the service runs as it is deployed: ``python -m attentions run`` (API, worker and outbox relay in one
  process, uvicorn), ``--processes`` of them sharing the port as replicas on one host would, with real JWT
  verification (RS256) on every request;
- the load generator (this process) drives it over HTTP, ``--concurrency`` requests in flight;
- the CPU each party spent per request (service, PostgreSQL, load generator) says where the cores went;
- create: ``POST /clients/{id}/attentions`` (access check, ATN code, insert, audit row, outbox event in one
  transaction); list: ``GET /attentions?limit=50`` as an agent (access filter, progress counts, total);
- the harness ceiling: the same load generator against ``GET /healthz`` (no database, no auth);
- the baseline: a bare asyncpg INSERT of a similar row, one connection in a loop, and 32 tasks on a pool of 10
  connections (the service's pool size).
Results: docs/benchmarks/attentions.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from common import ROOT, broker, scratch_database, summary_ms, write_results
from crmkit.auth import DevTokenIssuer
from crmkit.localstack import free_port, wait_for_port

ISSUER = "https://id.edesal.bench/"
AUDIENCE = "edesal-crm"


@contextlib.contextmanager
def service_processes(
    dsn: str, bootstrap: str, issuer: DevTokenIssuer, port: int, count: int, split: bool = False
) -> Iterator[tuple[str, list[int]]]:
    """``count`` processes of the service sharing one port (HTTP_REUSE_PORT: the kernel spreads the
    connections), as a host runs several replicas; each runs API, worker and relay (one relay leads), as
    compose runs a service. ``split``: ``count`` API processes, and the worker and the relay each in a
    process of its own, as the Kubernetes manifests deploy them."""
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:6]}.",
        "HTTP_PORT": str(port),
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        "JWT_PUBLIC_KEY": issuer.public_pem(),
        "LOG_LEVEL": "WARNING",
        "DEV_AUTH": "false",
        "HTTP_REUSE_PORT": "true",
    }
    # BENCH_PARTS=api measures the API alone (no relay publishing the created events anywhere)
    parts = ["api"] * count + ["worker", "relay"] if split else [os.environ.get("BENCH_PARTS", "run")] * count
    # A worker or relay process serves its probes on a port of its own (on the shared one the kernel would
    # hand it API requests, which it answers 404).
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "attentions", part],
            env=env if part in ("api", "run") else {**env, "HTTP_PORT": str(free_port())},
            cwd=ROOT,
            start_new_session=True,
        )
        for part in parts
    ]
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        yield f"http://127.0.0.1:{port}", [p.pid for p in procs]
        # A process that died (at start, say) leaves the others serving: the figures would be of fewer
        # processes than the file says. (It happened: concurrent migrations, fixed in crmkit.db.migrate.)
        dead = [p.returncode for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{len(dead)} of {len(procs)} service processes exited ({dead}): no figures")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


class RawHttp:
    """A lean HTTP/1.1 keep-alive connection: the load generator itself must not be the bottleneck.

    httpx spends about 1-2 ms of CPU per request, and its shared pool degrades with 32 requests in flight:
    on this 2-core box it tops out near 400-600 requests/s against a handler that does nothing. This client
    writes the request bytes and reads ``Content-Length`` bytes back, nothing more (uvicorn answers every
    route of the service with a Content-Length).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, base: str) -> RawHttp:
        host, port = base.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", "Host: bench", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status = int((await self.reader.readuntil(b"\r\n")).split()[1])
        length = 0
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


Request = Callable[[RawHttp, int], Awaitable[tuple[int, bytes]]]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (Linux /proc)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on the box (backends, WAL writer, checkpointer): the database's share."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
    return pids


async def drive(
    base: str, total: int, concurrency: int, request: Request, expect: int, pids: list[int] | None = None
) -> dict[str, Any]:
    """``total`` requests, ``concurrency`` in flight (one keep-alive connection each); latency and rate.

    With ``pids``: the CPU the service's processes spent per request, a figure the load of the box hardly
    moves; and, beside it, what PostgreSQL and this load generator spent: where the two cores went.
    """
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(total))
    connections = [await RawHttp.open(base) for _ in range(concurrency)]

    async def worker(http: RawHttp) -> None:
        for i in counter:
            started = time.perf_counter()
            status, _ = await request(http, i)
            latencies.append(time.perf_counter() - started)
            if status != expect:
                errors[str(status)] = errors.get(str(status), 0) + 1

    database = postgres_pids()
    cpu_before = (cpu_seconds(pids or []), cpu_seconds(database), cpu_seconds([os.getpid()]))
    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    for c in connections:
        c.close()
    result: dict[str, Any] = {
        "requests": total,
        "concurrency": concurrency,
        "per_s": round(total / elapsed),
        **summary_ms(latencies),
        "errors": errors,
    }
    if pids:
        per_request = (cpu_seconds(pids) - cpu_before[0]) / total
        result["service_cpu_ms_per_request"] = round(per_request * 1000, 3)
        result["one_core_ceiling_per_s"] = round(1 / per_request) if per_request else None
        database_s = cpu_seconds(database) - cpu_before[1]
        result["postgres_cpu_ms_per_request"] = round(database_s / total * 1000, 3)
        result["load_generator_cpu_ms_per_request"] = round(
            (cpu_seconds([os.getpid()]) - cpu_before[2]) / total * 1000, 3
        )
    return result


async def drive_httpx(
    base: str, total: int, concurrency: int, request: Callable[[httpx.AsyncClient, int], Any], expect: int
) -> dict[str, Any]:
    """The same load through httpx (one shared AsyncClient), to show what that harness itself costs."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:

        async def worker() -> None:
            for i in counter:
                started = time.perf_counter()
                response = await request(http, i)
                latencies.append(time.perf_counter() - started)
                if response.status_code != expect:
                    errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "requests": total,
        "concurrency": concurrency,
        "per_s": round(total / elapsed),
        **summary_ms(latencies),
        "errors": errors,
    }


async def seed(base: str, issuer: DevTokenIssuer, agents: int) -> list[tuple[str, str]]:
    """Agents u-bench-00.. each with one client of their own; returns (token, client_id) per agent."""
    admin = {"Authorization": f"Bearer {issuer.issue('u-admin', roles=['admin'])}"}
    lines = ["user_id,name,email,area,manager_id,roles,active", "u-admin,Admin,a@e.test,Gerencia,,admin,true"]
    lines += [f"u-bench-{i:02d},Agente {i},b{i}@e.test,Comercial,u-admin,agent,true" for i in range(agents)]
    pairs: list[tuple[str, str]] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        csv = ("\n".join(lines) + "\n").encode()
        response = await http.post("/staff/import", files={"file": ("s.csv", csv, "text/csv")}, headers=admin)
        response.raise_for_status()
        for i in range(agents):
            token = issuer.issue(f"u-bench-{i:02d}", roles=["agent"], ttl_s=3600)
            response = await http.post(
                "/clients",
                json={"kind": "stakeholder", "name": f"Cliente {i}", "tax_id": f"0614-{i:06d}-101-1"},
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            pairs.append((token, response.json()["client_id"]))
    return pairs


async def bare_asyncpg(dsn: str, n: int, concurrency: int) -> dict[str, Any]:
    """The floor: INSERT of a row like an attention, autocommit, nothing else."""
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        """CREATE TABLE bench_rows (id uuid PRIMARY KEY, code text NOT NULL, client_id uuid, subject text,
                                    description text, happened_at timestamptz,
                                    created_at timestamptz DEFAULT now())"""
    )
    sql = (
        "INSERT INTO bench_rows (id, code, client_id, subject, description, happened_at) "
        "VALUES ($1, $2, $3, $4, $5, now())"
    )
    client_id = uuid.uuid4()
    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        await conn.execute(sql, uuid.uuid4(), f"B-{i}", client_id, "Solicitud", "Llamada del alcalde")
        latencies.append(time.perf_counter() - t)
    sequential = {"rows": n, "per_s": round(n / (time.perf_counter() - started)), **summary_ms(latencies)}
    await conn.close()

    pool = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
    assert pool is not None
    latencies = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            t = time.perf_counter()
            async with pool.acquire() as c:
                await c.execute(sql, uuid.uuid4(), f"P-{i}", client_id, "Solicitud", "Llamada del alcalde")
            latencies.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    pooled = {
        "rows": n,
        "concurrency": concurrency,
        "pool_size": 10,
        "per_s": round(n / (time.perf_counter() - started)),
        **summary_ms(latencies),
    }
    await pool.close()
    return {"one_connection_loop": sequential, "pool_32_tasks": pooled}


async def main(creates: int, lists: int, concurrency: int, processes: int, split: bool) -> None:
    load_before = os.getloadavg()
    issuer = DevTokenIssuer(issuer=ISSUER, audience=AUDIENCE)
    with broker() as bootstrap:
        async with scratch_database("attentions") as dsn:
            port = free_port()
            with service_processes(dsn, bootstrap, issuer, port, processes, split) as (base, pids):
                async with httpx.AsyncClient(base_url=base, timeout=30) as probe:
                    for _ in range(600):
                        with contextlib.suppress(httpx.HTTPError):
                            if (await probe.get("/readyz")).status_code == 200:
                                break
                        await asyncio.sleep(0.1)
                pairs = await seed(base, issuer, concurrency)
                ceiling = await drive(
                    base, 5000, concurrency, lambda h, i: h.request("GET", "/healthz"), 200, pids
                )
                print(f"harness ceiling (GET /healthz): {ceiling}")

                def attention(i: int) -> dict[str, str]:
                    return {
                        "channel": "phone",
                        "subject": f"Solicitud {i}",
                        "description": "Llamada del alcalde sobre ampliación de red",
                        "happened_at": "2026-03-02T10:00:00-06:00",
                    }

                def create(http: RawHttp, i: int) -> Awaitable[tuple[int, bytes]]:
                    token, client_id = pairs[i % len(pairs)]
                    body = json.dumps(attention(i)).encode()
                    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                    return http.request("POST", f"/clients/{client_id}/attentions", body, headers)

                await drive(base, 500, concurrency, create, 201)  # warm-up (connections, caches): not counted
                created = await drive(base, creates, concurrency, create, 201, pids)
                print(f"create: {created}")

                def list_(http: RawHttp, i: int) -> Awaitable[tuple[int, bytes]]:
                    token, _ = pairs[i % len(pairs)]
                    return http.request(
                        "GET", "/attentions?limit=50", headers={"Authorization": f"Bearer {token}"}
                    )

                listed = await drive(base, lists, concurrency, list_, 200, pids)
                print(f"list (agent): {listed}")
                admin = issuer.issue("u-admin", roles=["admin"], ttl_s=3600)

                def list_admin(http: RawHttp, i: int) -> Awaitable[tuple[int, bytes]]:
                    return http.request(
                        "GET", "/attentions?limit=50", headers={"Authorization": f"Bearer {admin}"}
                    )

                listed_admin = await drive(base, lists, concurrency, list_admin, 200, pids)
                print(f"list (admin): {listed_admin}")

                def create_httpx(http: httpx.AsyncClient, i: int) -> Any:
                    token, client_id = pairs[i % len(pairs)]
                    return http.post(
                        f"/clients/{client_id}/attentions",
                        json=attention(i),
                        headers={"Authorization": f"Bearer {token}"},
                    )

                via_httpx = await drive_httpx(base, min(creates, 1000), concurrency, create_httpx, 201)
                print(f"create through httpx: {via_httpx}")
                conn = await asyncpg.connect(dsn)
                try:
                    attentions = await conn.fetchval("SELECT count(*) FROM attentions")
                    unpublished = await conn.fetchval(
                        "SELECT count(*) FROM kit_outbox WHERE published_at IS NULL"
                    )
                finally:
                    await conn.close()
        async with scratch_database("bare") as bare_dsn:
            bare = await bare_asyncpg(bare_dsn, creates, concurrency)
            print(f"bare asyncpg: {bare}")
    results = {
        "service": (
            f"python -m attentions api x {processes} (one port shared with SO_REUSEPORT, uvicorn, pool of 10 "
            "each), a worker process and a relay process, as the Kubernetes manifests deploy them"
            if split
            else f"python -m attentions run x {processes} (API + worker + relay each, one port shared with "
            "SO_REUSEPORT, uvicorn, pool of 10 each; one relay leads)"
        ),
        "auth": "RS256 bearer JWT verified on every request",
        "load_generator": "lean HTTP/1.1 keep-alive client, one connection per request in flight (RawHttp)",
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "harness_ceiling_healthz": ceiling,
        "create_attention": created,
        "create_attention_through_httpx": via_httpx,
        "list_attentions_as_agent": {**listed, "rows_in_table": attentions},
        "list_attentions_as_admin": listed_admin,
        "bare_asyncpg_insert": bare,
        "outbox_unpublished_at_end": unpublished,
        "target": {"creates_per_s": 800, "p99_ms": 50},
        "target_met": created["per_s"] >= 800 and created["p99_ms"] < 50,
    }
    path = write_results("attentions", results)
    print(f"written {path.relative_to(ROOT)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--creates", type=int, default=6000)
    parser.add_argument("--lists", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--processes", type=int, default=1, help="service processes sharing the port")
    parser.add_argument(
        "--split",
        action="store_true",
        help="API processes, plus the worker and the relay in processes of their own",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    asyncio.run(main(args.creates, args.lists, args.concurrency, args.processes, args.split))
