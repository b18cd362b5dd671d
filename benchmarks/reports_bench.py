"""Reports benchmark: report latency on a big read model, and the XLSX export of 100,000 rows.

The read model is bulk-loaded server-side (INSERT ... SELECT over generate_series, the indexes built
after the load): 1,000,000 attentions and 1,500,000 events + 1,500,000 tickets over three years
(2024-01-01 to 2026-11-22), half on 5,000 clients and half on 50,000 suministros; 300 staff in 12 areas;
85 % of items closed; 2 % of tickets reopened. One client holds 20,000 attentions, 40,000 events and
40,000 tickets in 2025: its report is the 100,000-row export.

Measured through the service's HTTP API in this process (ASGI, no network), as an admin and as an agent
with access to 20 clients:
- one-year (2025) report of one ordinary client, p50/p95/p99;
- one-year overview (by area, responsible, channel, client kind, charts), p50/p95/p99;
- the raw limit in the same run: the same SQL through plain asyncpg (no figures, no JSON) and a bare
  count of the period's rows;
- the XLSX export of the big client (100,000 rows) in a subprocess: seconds and peak RSS, beside a bare
  asyncpg cursor -> xlsxwriter (constant_memory) loop in another subprocess.

python3 -m uv run python benchmarks/reports_bench.py [--scale 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from common import scratch_database, summary_ms, write_results
from crmkit.auth import DevTokenIssuer
from crmkit.db import migrate
from crmkit.runtime import ServiceRuntime
from reports.service import MIGRATIONS, define
from reports.settings import Settings

YEAR = {"from": "2025-01-01", "to": "2025-12-31"}
BIG_CLIENT = "00000000-0000-0000-0000-0000000000b1"
AREAS = 12
# Items are closed 85 % of the time; of those older than 90 days, 98 % are closed (a small old backlog).
OLD = "timestamptz '2026-08-24 06:00+00'"
CLOSES = f"(random() < 0.85 OR (o < {OLD} AND random() < 0.98))"
STAFF = 300


def client_uuid(sql_int: str) -> str:
    return f"md5('client-' || ({sql_int}))::uuid"


def load_sql(attentions: int, clients: int, points: int, big: int) -> list[str]:
    events = tickets = attentions * 3 // 2
    span = "interval '1057 days'"
    return [
        f"""INSERT INTO rpt_staff SELECT 'u-' || s, 'Persona ' || s, 'Área ' || (s % {AREAS}), now()
            FROM generate_series(0, {STAFF - 1}) s""",
        f"""INSERT INTO rpt_clients SELECT {client_uuid("c")}, 'CLI-' || c,
              CASE WHEN c % 3 = 0 THEN 'stakeholder' ELSE 'prospect' END, c % 10 = 0, 'Cliente ' || c, now()
            FROM generate_series(1, {clients}) c""",
        f"""INSERT INTO rpt_clients
            VALUES ('{BIG_CLIENT}', 'CLI-BIG', 'stakeholder', false, 'Alcaldía', now())""",
        f"""INSERT INTO rpt_client_access SELECT {client_uuid("c")}, 'u-1', true, now()
            FROM generate_series(1, 20) c""",
        f"""INSERT INTO rpt_supply_points SELECT 'N' || n, 'Titular ' || n, 'Dirección', 'T1', false, now()
            FROM generate_series(0, {points - 1}) n""",
        # Attentions: the first `big` on the big client in 2025; then even ones on clients, odd on NICs.
        f"""INSERT INTO rpt_attentions
            SELECT md5('a' || i)::uuid, 'ATN-' || i, CASE WHEN i <= {big} OR i % 2 = 0 THEN 'client'
                   ELSE 'supply_point' END,
                   CASE WHEN i <= {big} THEN '{BIG_CLIENT}'::uuid WHEN i % 2 = 0
                        THEN {client_uuid(f"1 + (i::bigint * 7919) % {clients}")} END,
                   CASE WHEN i > {big} AND i % 2 = 1 THEN 'N' || (i % {points}) END,
                   'Sujeto', (ARRAY['phone','email','letter','visit','web','other'])[1 + i % 6], 'Resumen',
                   'u-' || (i % {STAFF}), o, CASE WHEN {CLOSES} THEN o + random() * interval '20 days' END,
                   'u-' || (i % {STAFF})
            FROM (SELECT i, CASE WHEN i <= {big}
                         THEN timestamptz '2025-01-01 06:00+00' + random() * interval '364 days'
                         ELSE timestamptz '2024-01-01 06:00+00' + random() * {span} END AS o
                  FROM generate_series(1, {attentions}) i) g""",
        f"""INSERT INTO rpt_events
            SELECT md5('e' || j)::uuid, a.attention_id, 'EVT-' || j, a.subject_kind, a.client_id, a.nic,
                   'Evento ' || j, d + 5 + (j % 20), d + 10 + (j % 20), 'u-' || (j % {STAFF}), o,
                   CASE WHEN {CLOSES} THEN o + random() * interval '30 days' END, 'u-' || (j % {STAFF})
            FROM (SELECT j, md5('a' || (1 + (j - 1) % {attentions}))::uuid AS aid
                  FROM generate_series(1, {events}) j) g
            JOIN rpt_attentions a ON a.attention_id = g.aid,
            LATERAL (SELECT a.opened_at + random() * interval '2 days' AS o) x,
            LATERAL (SELECT (x.o AT TIME ZONE 'America/El_Salvador')::date AS d) y""",
        f"""INSERT INTO rpt_tickets
            SELECT md5('t' || t)::uuid, e.event_id, e.attention_id, 'TCK-' || t, e.subject_kind, e.client_id,
                   e.nic, 'Tarea', 'u-' || (t % {STAFF}), 'Persona ' || (t % {STAFF}),
                   'Área ' || ((t % {STAFF}) % {AREAS}),
                   e.internal_commitment_date - (t % 3), o,
                   CASE WHEN c THEN 'closed' ELSE 'in_progress' END, o + interval '1 hour',
                   CASE WHEN c THEN o + random() * interval '25 days' END
            FROM (SELECT t, md5('e' || t)::uuid AS eid FROM generate_series(1, {tickets}) t) g
            JOIN rpt_events e ON e.event_id = g.eid,
            LATERAL (SELECT e.opened_at + random() * interval '1 day' AS o) x,
            LATERAL (SELECT random() < 0.85 OR (e.opened_at < {OLD} AND random() < 0.98) AS c) z""",
        """INSERT INTO rpt_ticket_reopens SELECT ticket_id, opened_at + interval '3 days' FROM rpt_tickets
            WHERE abs(hashtext(ticket_id::text)) % 50 = 0""",
    ]


def index_statements() -> list[tuple[str, str]]:
    sql = (MIGRATIONS / "20261123000000_reports_read_model.sql").read_text().split("-- migrate:down")[0]
    return [(m.group(1), m.group(0)) for m in re.finditer(r"CREATE INDEX (\w+) ON [^;]+;", sql)]


async def load(dsn: str, scale: float) -> dict[str, Any]:
    await migrate(dsn, [MIGRATIONS])
    conn = await asyncpg.connect(dsn)
    try:
        indexes = index_statements()
        for name, _ in indexes:
            await conn.execute(f"DROP INDEX {name}")
        attentions = int(1_000_000 * scale)
        big = int(20_000 * scale)
        started = time.perf_counter()
        for statement in load_sql(attentions, 5_000, 50_000, big):
            await conn.execute(statement)
        loaded = time.perf_counter() - started
        for _, statement in indexes:
            await conn.execute(statement)
        await conn.execute("ANALYZE")
        counts = {
            t: await conn.fetchval(f"SELECT count(*) FROM {t}")
            for t in ("rpt_attentions", "rpt_events", "rpt_tickets", "rpt_ticket_reopens")
        }
        big_rows = sum(
            [
                await conn.fetchval(
                    f"SELECT count(*) FROM {t} WHERE client_id = $1 AND opened_at >= '2025-01-01 06:00+00'",
                    BIG_CLIENT,
                )
                for t in ("rpt_attentions", "rpt_events", "rpt_tickets")
            ]
        )
        return {
            "rows": counts,
            "big_client_rows_2025": big_rows,
            "load_s": round(loaded, 1),
            "load_and_index_s": round(time.perf_counter() - started, 1),
        }
    finally:
        await conn.close()


async def timed(call: Any, samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        out.append(time.perf_counter() - started)
    return out


def with_p95(seconds: list[float]) -> dict[str, float]:
    from common import percentile

    figures = summary_ms(seconds)
    figures["p95_ms"] = round(percentile([s * 1000 for s in seconds], 95), 2)
    return figures


async def measure_api(dsn: str, samples: int) -> dict[str, Any]:
    issuer = DevTokenIssuer(issuer="edesal-crm", audience="edesal-crm")
    settings = Settings(
        database_url=dsn,
        jwt_issuer="edesal-crm",
        jwt_audience="edesal-crm",
        jwt_public_key=issuer.public_pem(),
        log_json=False,
        log_level="WARNING",
        create_topics=False,
    )
    runtime = ServiceRuntime(define(settings))
    results: dict[str, Any] = {}
    rng = random.Random(7)
    async with runtime.running(parts={"api"}):
        assert runtime.api is not None

        def client(user: str, *roles: str) -> httpx.AsyncClient:
            token = issuer.issue(user, name=user, roles=roles)
            return httpx.AsyncClient(
                transport=httpx.ASGITransport(app=runtime.api),
                base_url="http://reports",
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            )

        async with client("u-admin", "admin") as admin, client("u-1", "agent") as agent:
            conn = await asyncpg.connect(dsn)
            ids = [
                r["client_id"]
                for r in await conn.fetch(
                    "SELECT client_id FROM rpt_clients WHERE client_id <> $1", BIG_CLIENT
                )
            ]
            agent_ids = [
                r["client_id"]
                for r in await conn.fetch("SELECT client_id FROM rpt_client_access WHERE user_id = 'u-1'")
            ]

            async def subject(http: httpx.AsyncClient, pool: list[Any]) -> None:
                r = await http.get("/reports/subject", params={"client_id": str(rng.choice(pool)), **YEAR})
                assert r.status_code == 200, r.text

            async def overview(http: httpx.AsyncClient) -> None:
                r = await http.get("/reports/overview", params=YEAR)
                assert r.status_code == 200, r.text

            await subject(admin, ids)  # warm the pool and the statement caches
            await overview(admin)
            results["subject_one_year_admin"] = with_p95(await timed(lambda: subject(admin, ids), samples))
            results["subject_one_year_agent"] = with_p95(
                await timed(lambda: subject(agent, agent_ids), samples)
            )
            results["overview_one_year_admin"] = with_p95(
                await timed(lambda: overview(admin), max(10, samples // 10))
            )
            results["overview_one_year_agent"] = with_p95(
                await timed(lambda: overview(agent), max(10, samples // 10))
            )
            probe = await admin.get("/reports/subject", params={"client_id": str(ids[0]), **YEAR})
            report = probe.json()
            results["ordinary_client_rows_in_report"] = sum(
                len(report[k]) for k in ("attentions", "events", "tickets")
            )

            # Raw limit: the same SQL through plain asyncpg, without figures or JSON; and a bare count.
            from reports.domain.period import Period
            from reports.report import window
            from reports.store import queries

            period = Period.of(date(2025, 1, 1), date(2025, 12, 31))

            async def raw_subject() -> None:
                key = rng.choice(ids)
                for kind in ("attention", "event", "ticket"):
                    await conn.fetch(
                        queries.subject_query(kind, "client_id"), key, period.since, period.until
                    )

            w = window(period, date(2026, 11, 23))
            full: tuple[Any, ...] = (w.since, w.until, w.as_of, w.as_of_end, True, [])
            raw_statements: list[tuple[str, tuple[Any, ...]]] = [
                (queries.TICKETS_BY_RESPONSIBLE, full),
                (queries.EVENTS_BY_AREA, full),
                (queries.ATTENTIONS_BY_CHANNEL, full),
            ]
            for kind in ("attention", "event", "ticket"):
                raw_statements.append((queries.by_client_kind_query(kind), full))
                raw_statements.append((queries.weekly_query(kind), (w.since, w.until, True, [])))

            async def raw_overview() -> None:  # the same statements one after the other on one connection
                for sql, params in raw_statements:
                    await conn.fetch(sql, *params)

            async def raw_count() -> None:
                for table in ("rpt_attentions", "rpt_events", "rpt_tickets"):
                    await conn.fetchval(
                        f"SELECT count(*) FROM {table} WHERE opened_at >= $1 AND opened_at < $2",
                        period.since,
                        period.until,
                    )

            results["raw_subject_sql"] = with_p95(await timed(raw_subject, samples))
            results["raw_overview_sql"] = with_p95(await timed(raw_overview, max(10, samples // 10)))
            results["raw_count_period_rows"] = with_p95(await timed(raw_count, max(10, samples // 10)))
            await conn.close()
    return results


EXPORT_CHILD = """
import asyncio, json, resource, sys, time
sys.path.insert(0, {bench!r})
import httpx
from crmkit.auth import DevTokenIssuer
from crmkit.runtime import ServiceRuntime
from reports.service import define
from reports.settings import Settings

async def main():
    issuer = DevTokenIssuer(issuer="edesal-crm", audience="edesal-crm")
    settings = Settings(database_url={dsn!r}, jwt_issuer="edesal-crm", jwt_audience="edesal-crm",
                        jwt_public_key=issuer.public_pem(), log_json=False, log_level="WARNING",
                        create_topics=False)
    runtime = ServiceRuntime(define(settings))
    async with runtime.running(parts={{"api"}}):
        token = issuer.issue("u-admin", name="admin", roles=("admin",))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.api), base_url="http://r",
                                     headers={{"Authorization": "Bearer " + token}}, timeout=600) as http:
            started = time.perf_counter()
            size = 0
            async with http.stream("GET", "/reports/subject/export",
                                   params={{"client_id": {client!r}, "from": "2025-01-01", "to": "2025-12-31",
                                           "format": "xlsx"}}) as r:
                assert r.status_code == 200
                async for chunk in r.aiter_bytes():
                    size += len(chunk)
            seconds = time.perf_counter() - started
    print(json.dumps({{"seconds": round(seconds, 2), "bytes": size,
                      "rss_before_export_mb": round(before / 1024, 1),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}}))

asyncio.run(main())
"""

RAW_EXPORT_CHILD = """
import asyncio, json, os, resource, tempfile, time
import asyncpg, xlsxwriter

async def main():
    conn = await asyncpg.connect({dsn!r})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    fd, path = tempfile.mkstemp(suffix=".xlsx"); os.close(fd)
    book = xlsxwriter.Workbook(path, {{"constant_memory": True}})
    sheet = book.add_worksheet("Detalle")
    n = 0
    async with conn.transaction():
        for table in ("rpt_attentions", "rpt_events", "rpt_tickets"):
            async for row in conn.cursor(
                f"SELECT code, opened_at, closed_at FROM {{table}} WHERE client_id = $1 AND opened_at < $2 "
                "AND (closed_at IS NULL OR closed_at >= $3)", {client!r}, __import__("datetime").datetime(
                2026, 1, 1, 6, tzinfo=__import__("datetime").UTC), __import__("datetime").datetime(
                2025, 1, 1, 6, tzinfo=__import__("datetime").UTC), prefetch=2000):
                n += 1
                sheet.write_row(n, 0, [row[0], str(row[1]), str(row[2] or "")])
    book.close()
    size = os.path.getsize(path); os.unlink(path)
    print(json.dumps({{"rows": n, "seconds": round(time.perf_counter() - started, 2), "bytes": size,
                      "rss_before_export_mb": round(before / 1024, 1),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}}))
    await conn.close()

asyncio.run(main())
"""


def child(code: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def run(scale: float, samples: int) -> dict[str, Any]:
    async with scratch_database("reports") as dsn:
        loaded = await load(dsn, scale)
        print("loaded", loaded, flush=True)
        api = await measure_api(dsn, samples)
        print("api", json.dumps(api), flush=True)
        bench_dir = str(Path(__file__).parent)
        export = child(EXPORT_CHILD.format(bench=bench_dir, dsn=dsn, client=BIG_CLIENT))
        raw_export = child(RAW_EXPORT_CHILD.format(dsn=dsn, client=BIG_CLIENT))
        print("export", export, "raw", raw_export, flush=True)
    return {
        "scale": scale,
        "read_model": loaded,
        **api,
        "xlsx_export_big_client": export,
        "raw_xlsx_cursor_loop": raw_export,
        "targets": {"report_p95_ms": 300, "export_100k_s": 10, "export_peak_rss_mb": 300},
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M attentions, 3M events+tickets")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    results = asyncio.run(run(args.scale, args.samples))
    if args.scale == 1.0:
        print(write_results("reports", results))
    else:
        print(json.dumps(results, indent=2))
    _ = resource  # peak RSS is read by the children themselves


if __name__ == "__main__":
    main()
