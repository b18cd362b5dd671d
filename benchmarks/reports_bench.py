"""Reports benchmark: report latency on a big read model, the XLSX export of 100,000 rows, and what the
rollups cost the projection.

The read model is bulk-loaded server-side (INSERT ... SELECT over generate_series, the indexes built after
the load, the rollup triggers off during the load and the rollups then filled from the rows by the same
statement the rollups migration runs on existing rows): 1,000,000 attentions and 1,500,000 events +
1,500,000 tickets over three years (2024-01-01 to 2026-11-22), half on 5,000 clients and half on 50,000
suministros; 300 staff in 12 areas; 85 % of items closed; 2 % of tickets reopened. One client holds 20,000
attentions, 40,000 events and 40,000 tickets in 2025: its report is the 100,000-row export.

Measured through the service's HTTP API in this process (ASGI, no network), as an admin and as an agent
with access to 20 clients:
- one-year (2025) report of one ordinary client, p50/p95/p99;
- the overview (by area, responsible, channel, client kind, charts) of calendar year 2025 and of the last
  365 days (days at both ends of the period, counted on today), p50/p95/p99; and an agent who may also see
  the big client (the client part of an agent's overview is computed from their clients' rows);
- the raw limits in the same run: the overview's two rollup statements through plain asyncpg; the bare
  scan of the detail rows (a count of the year's rows, and one grouped aggregate of tickets by person);
- the XLSX export of the big client (100,000 rows) in a subprocess, seconds and peak RSS, beside a bare
  cursor -> writer loop (the same file without HTTP, threads or figures) and xlsxwriter (constant_memory)
  writing the same rows;
- the projection: events/s through the consumer's batch path (the same handlers, in batches of 1,000)
  with the rollups maintained and with their triggers off, on fresh databases.

python3 -m uv run python benchmarks/reports_bench.py [--scale 0.1] [--db NAME [--load-only]]
With --db the read model is loaded once into database NAME and kept (a later run with the same name only
measures): load outside the benchmark lock, measure under it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import ConsumerRecord
from common import percentile, postgres_admin_url, scratch_database, summary_ms, write_results
from crm_contracts.envelope import EventModel, new_envelope
from crm_contracts.events.attentions import AttentionClosed, AttentionOpened, EventClosed, EventOpened
from crm_contracts.events.clients import ClientUpserted
from crm_contracts.events.common import Person, Subject
from crm_contracts.events.tickets import TicketAssigned, TicketClosed, TicketStatusChanged
from crm_contracts.registry import topic_for
from crmkit import localstack
from crmkit.auth import DevTokenIssuer
from crmkit.consumer import EventConsumer
from crmkit.db import create_pool, migrate
from crmkit.outbox import Outbox, encode, record_headers
from crmkit.runtime import ServiceRuntime
from reports.domain.buckets import Buckets
from reports.domain.period import TIMEZONE, Period
from reports.handlers import subscriptions
from reports.report import window
from reports.service import MIGRATIONS, define
from reports.settings import Settings
from reports.store import queries

YEAR = {"from": "2025-01-01", "to": "2025-12-31"}
BIG_CLIENT = "00000000-0000-0000-0000-0000000000b1"
AREAS = 12
# Items are closed 85 % of the time; of those older than 90 days, 98 % are closed (a small old backlog).
OLD = "timestamptz '2026-08-24 06:00+00'"
CLOSES = f"(random() < 0.85 OR (o < {OLD} AND random() < 0.98))"
STAFF = 300
FACTS = ("rpt_attentions", "rpt_events", "rpt_tickets")
ROLLUP_TRIGGERS = (*FACTS, "rpt_clients")


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
        f"""INSERT INTO rpt_client_access SELECT {client_uuid("c")}, 'u-2', true, now()
            FROM generate_series(1, 20) c""",
        f"""INSERT INTO rpt_client_access VALUES ('{BIG_CLIENT}', 'u-2', true, now())""",
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


async def load(dsn: str, scale: float) -> dict[str, Any]:
    await migrate(dsn, [MIGRATIONS])
    conn = await asyncpg.connect(dsn)
    try:
        # Secondary indexes are built after the load; the rollups are filled once from the rows (the
        # statement the rollups migration runs on existing rows) rather than row by row by the triggers.
        indexes = await conn.fetch(
            """SELECT indexname, indexdef FROM pg_indexes
               WHERE tablename = ANY($1::text[]) AND indexname NOT LIKE '%_pkey'""",
            list(FACTS),
        )
        for index in indexes:
            await conn.execute(f"DROP INDEX {index['indexname']}")
        for table in ROLLUP_TRIGGERS:
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        attentions = int(1_000_000 * scale)
        big = int(20_000 * scale)
        started = time.perf_counter()
        for statement in load_sql(attentions, 5_000, 50_000, big):
            await conn.execute(statement)
        loaded = time.perf_counter() - started
        for index in indexes:
            await conn.execute(index["indexdef"])
        indexed = time.perf_counter() - started
        await conn.execute("ANALYZE")
        await conn.execute("SET jit = off")
        await conn.execute("SET work_mem = '256MB'")
        await conn.execute("INSERT INTO rpt_rollups SELECT * FROM rpt_rollups_expected")
        filled = time.perf_counter() - started - indexed
        for table in ROLLUP_TRIGGERS:
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        await conn.execute("ANALYZE")
        counts = {
            t: await conn.fetchval(f"SELECT count(*) FROM {t}")
            for t in (*FACTS, "rpt_ticket_reopens", "rpt_rollups")
        }
        big_rows = sum(
            [
                await conn.fetchval(
                    f"SELECT count(*) FROM {t} WHERE client_id = $1 AND opened_at >= '2025-01-01 06:00+00'",
                    BIG_CLIENT,
                )
                for t in FACTS
            ]
        )
        meta = {
            "scale": scale,
            "rows": counts,
            "big_client_rows_2025": big_rows,
            "load_s": round(loaded, 1),
            "load_and_index_s": round(indexed, 1),
            "rollups_filled_from_rows_s": round(filled, 1),
            "rollups_size_mb": round(
                float(await conn.fetchval("SELECT pg_total_relation_size('rpt_rollups')")) / 2**20, 1
            ),
            "read_model_size_mb": round(
                float(
                    await conn.fetchval(
                        "SELECT sum(pg_total_relation_size(t::regclass)) FROM unnest($1::text[]) t",
                        list(FACTS),
                    )
                )
                / 2**20,
                1,
            ),
        }
        await conn.execute("CREATE TABLE bench_meta (data jsonb NOT NULL)")
        await conn.execute("INSERT INTO bench_meta VALUES ($1::jsonb)", json.dumps(meta))
        return meta
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
    figures = summary_ms(seconds)
    figures["p95_ms"] = round(percentile([s * 1000 for s in seconds], 95), 2)
    return figures


def today() -> date:
    return datetime.now(TIMEZONE).date()


def rolling_year() -> dict[str, str]:
    return {"from": (today() - timedelta(days=364)).isoformat(), "to": today().isoformat()}


# The scan the rollups replace, at its barest: tickets of the year grouped by person, two counts.
RAW_DETAIL_AGGREGATE = """
SELECT area, responsible_id, count(*) FILTER (WHERE opened_at >= $1) AS opened,
       count(*) FILTER (WHERE status = 'closed' AND closed_at >= $1 AND closed_at < $2) AS closed
FROM rpt_tickets WHERE opened_at < $2 AND (status <> 'closed' OR closed_at >= $1)
GROUP BY 1, 2
"""


ROLLUP_ROWS_READ = """
SELECT (SELECT count(*) FROM unnest($1::text[], $2::date[], $3::int[], $4::int[]) b (grain, day, wp, wq)
        JOIN rpt_rollups x ON x.grain = b.grain AND x.day = b.day)
     + (SELECT count(*) FROM rpt_rollups x WHERE x.grain = 'y' AND x.day < $5)
"""


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

        async with (
            client("u-admin", "admin") as admin,
            client("u-1", "agent") as agent,
            client("u-2", "agent") as big_agent,
        ):
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

            async def overview(http: httpx.AsyncClient, period: dict[str, str]) -> None:
                r = await http.get("/reports/overview", params=period)
                assert r.status_code == 200, r.text

            await subject(admin, ids)  # warm the pool and the statement caches
            await overview(admin, YEAR)
            await overview(agent, YEAR)
            results["subject_one_year_admin"] = with_p95(await timed(lambda: subject(admin, ids), samples))
            results["subject_one_year_agent"] = with_p95(
                await timed(lambda: subject(agent, agent_ids), samples)
            )
            for name, period in (("calendar_year", YEAR), ("last_365_days", rolling_year())):
                for who, http in (("admin", admin), ("agent", agent)):
                    results[f"overview_{name}_{who}"] = with_p95(
                        await timed(lambda h=http, p=period: overview(h, p), samples)
                    )
            results["overview_calendar_year_agent_with_the_big_client"] = with_p95(
                await timed(lambda: overview(big_agent, YEAR), max(10, samples // 10))
            )
            probe = await admin.get("/reports/subject", params={"client_id": str(ids[0]), **YEAR})
            report = probe.json()
            results["ordinary_client_rows_in_report"] = sum(
                len(report[k]) for k in ("attentions", "events", "tickets")
            )
            big = (await big_agent.get("/reports/overview", params=YEAR)).json()
            results["big_agent_overview_attentions_opened"] = big["summary"]["attentions"]["opened"]

            # Raw limits: the overview's two statements through plain asyncpg (no figures, no JSON), and
            # the scan of the detail rows they replace.
            period = Period.of(date(2025, 1, 1), date(2025, 12, 31))
            w = window(period, today())
            b = Buckets.of(period.start, period.end, w.as_of)
            figures_args = queries.figures_args(b, queries.Viewer("u-admin", True))

            async def raw_subject() -> None:
                key = rng.choice(ids)
                for kind in ("attention", "event", "ticket"):
                    await conn.fetch(
                        queries.subject_query(kind, "client_id"), key, period.since, period.until
                    )

            async def raw_rollups() -> None:
                await conn.fetch(queries.FIGURES, *figures_args)
                await conn.fetch(queries.WEEKLY, b.start, b.end, True, [])

            async def raw_count() -> None:
                for table in FACTS:
                    await conn.fetchval(
                        f"SELECT count(*) FROM {table} WHERE opened_at >= $1 AND opened_at < $2",
                        period.since,
                        period.until,
                    )

            async def raw_detail_aggregate() -> None:
                await conn.fetch(RAW_DETAIL_AGGREGATE, period.since, period.until)

            results["raw_subject_sql"] = with_p95(await timed(raw_subject, samples))
            results["raw_overview_rollup_sql_one_after_the_other"] = with_p95(
                await timed(raw_rollups, samples)
            )
            results["raw_count_period_rows"] = with_p95(await timed(raw_count, 10))
            results["raw_detail_aggregate_tickets_by_person"] = with_p95(
                await timed(raw_detail_aggregate, 10)
            )
            for name, (start, end) in {
                "calendar_year": (period.start, period.end),
                "last_365_days": (today() - timedelta(days=364), today()),
            }.items():
                buckets = Buckets.of(start, end, min(end, today()))
                args = queries.figures_args(buckets, queries.Viewer("u-admin", True))[:5]
                read = await conn.fetchval(ROLLUP_ROWS_READ, *args)
                results[f"rollup_rows_read_{name}"] = {"buckets": len(args[0]), "rows": read}
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

# The same 12-column rows from the same cursors into the same writer, without HTTP, threads or figures.
RAW_EXPORT_CHILD = """
import asyncio, json, os, resource, tempfile, time
from datetime import datetime, UTC
import asyncpg
from reports import exports
from reports.store import queries
from reports.xlsx import Workbook

async def main():
    conn = await asyncpg.connect({dsn!r})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    fd, path = tempfile.mkstemp(suffix=".xlsx"); os.close(fd)
    book = Workbook(path)
    sheet = book.sheet("Detalle", exports.SUBJECT_COLUMNS)
    n = 0
    since, until = datetime(2025, 1, 1, 6, tzinfo=UTC), datetime(2026, 1, 1, 6, tzinfo=UTC)
    async with conn.transaction():
        for kind in ("attention", "event", "ticket"):
            async for row in conn.cursor(queries.subject_query(kind, "client_id"), {client!r}, since, until,
                                         prefetch=2000):
                n += 1
                sheet.add(exports.subject_line(kind, row))
    book.close()
    size = os.path.getsize(path); os.unlink(path)
    print(json.dumps({{"rows": n, "seconds": round(time.perf_counter() - started, 2), "bytes": size,
                      "rss_before_export_mb": round(before / 1024, 1),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}}))
    await conn.close()

asyncio.run(main())
"""

# Why the exports no longer use xlsxwriter: the same rows, already formatted, written by it alone.
XLSXWRITER_CHILD = """
import json, os, tempfile, time
import xlsxwriter
row = ["Ticket", "TCK-2025-000001", "Cerrado", "Revisar la acometida", "2025-03-01 10:00",
       "2025-03-03 16:30", "2025-03-05", "", "Persona 12", "Área 3", "", 0]
fd, path = tempfile.mkstemp(suffix=".xlsx"); os.close(fd)
started = time.perf_counter()
book = xlsxwriter.Workbook(path, {{"constant_memory": True, "strings_to_formulas": False,
                                  "strings_to_urls": False}})
sheet = book.add_worksheet("Detalle")
for n in range({rows}):
    sheet.write_row(n + 1, 0, row)
book.close()
print(json.dumps({{"rows": {rows}, "seconds": round(time.perf_counter() - started, 2)}}))
os.unlink(path)
"""


def child(code: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- the projection with and without the rollups ------------------------------------------------------------


def stream(attentions: int, days: float, seed: int = 5) -> list[EventModel]:
    """A history as the topics carry it: clients, then attentions, events and tickets over ``days``."""
    rng = random.Random(seed)
    staff = [
        Person(user_id=f"u-{i}", name=f"Persona {i}", email=f"u{i}@edesal.test", area=f"Área {i % 12}")
        for i in range(300)
    ]
    clients = [uuid.UUID(int=i + 1) for i in range(500)]
    late = clients[400:]  # their records arrive after their rows: their rows move to the client's kind
    out: list[EventModel] = [
        ClientUpserted(client_id=c, code=f"CLI-{n}", kind="prospect" if n % 3 else "stakeholder", name="C")
        for n, c in enumerate(clients[:400])
    ]
    start = datetime(2024, 6, 1, tzinfo=UTC)
    for n in range(attentions):
        opened = start + timedelta(seconds=rng.uniform(0, days * 86400))
        if n % 2:
            subject = Subject(kind="client", client_id=rng.choice(clients), display_name="C")
        else:
            subject = Subject(kind="supply_point", nic=f"N{n % 5000}", display_name="T")
        attention = uuid.uuid4()
        who = rng.choice(staff)
        out.append(
            AttentionOpened(
                attention_id=attention,
                code=f"ATN-{n}",
                subject=subject,
                channel="phone",
                summary="S",
                happened_at=opened,
                registered_by=who.user_id,
            )
        )
        for e in range(1 + n % 2):  # 1.5 events per attention, one ticket per event
            event, ticket = uuid.uuid4(), uuid.uuid4()
            day = opened.astimezone(TIMEZONE).date()
            out.append(
                EventOpened(
                    event_id=event,
                    attention_id=attention,
                    code=f"EVT-{n}-{e}",
                    subject=subject,
                    title="E",
                    client_commitment_date=day + timedelta(days=15),
                    internal_commitment_date=day + timedelta(days=10),
                    created_by=who.user_id,
                )
            )
            person = rng.choice(staff)
            out.append(
                TicketAssigned(
                    ticket_id=ticket,
                    code=f"TCK-{n}-{e}",
                    responsibility="T",
                    due_date=day + timedelta(days=8),
                    responsible=person,
                    event_id=event,
                    event_code=f"EVT-{n}-{e}",
                    event_title="E",
                    event_internal_commitment_date=day + timedelta(days=10),
                    attention_id=attention,
                    attention_code=f"ATN-{n}",
                    subject=subject,
                    requested_by=who.user_id,
                )
            )
            out.append(
                TicketStatusChanged(
                    ticket_id=ticket,
                    event_id=event,
                    status="accepted",
                    changed_at=opened + timedelta(hours=2),
                    attention_id=attention,
                )
            )
            if rng.random() < 0.85:
                closed = opened + timedelta(days=rng.uniform(0, 20))
                out.append(
                    TicketClosed(
                        ticket_id=ticket,
                        event_id=event,
                        attention_id=attention,
                        resolution="ok",
                        closed_at=closed,
                    )
                )
                out.append(
                    EventClosed(
                        event_id=event,
                        attention_id=attention,
                        closed_by=who.user_id,
                        closed_at=closed + timedelta(hours=1),
                    )
                )
        if rng.random() < 0.85:
            out.append(
                AttentionClosed(
                    attention_id=attention,
                    closed_by=who.user_id,
                    closed_at=opened + timedelta(days=25),
                    note="fin",
                )
            )
    out += [ClientUpserted(client_id=c, code="CLI-L", kind="stakeholder", name="C") for c in late]
    return out


async def projection_rate(events: list[EventModel], with_rollups: bool) -> dict[str, Any]:
    async with scratch_database("reports_projection") as dsn:
        settings = Settings(database_url=dsn, log_json=False, log_level="WARNING", create_topics=False)
        await migrate(dsn, [MIGRATIONS])
        pool = await create_pool(dsn, max_size=2)
        try:
            if not with_rollups:
                async with pool.acquire() as conn:
                    for table in ROLLUP_TRIGGERS:
                        await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            records = []
            for offset, event in enumerate(events):
                env = new_envelope(event, producer="bench")
                value = encode(env)
                headers = record_headers(env.event_id, env.type, env.schema_version, env.producer, None)
                topic = settings.topic(topic_for(event).name)
                records.append(
                    ConsumerRecord(topic, 0, offset, 0, 0, b"k", value, None, 1, len(value), tuple(headers))
                )
            consumer = EventConsumer(settings, pool, subscriptions, Outbox("reports", ""), None)
            started = time.perf_counter()
            for i in range(0, len(records), 1000):
                outcome = await consumer.process_batch(records[i : i + 1000])
                assert outcome.applied == len(records[i : i + 1000]), outcome
            seconds = time.perf_counter() - started
            async with pool.acquire() as conn:
                rollups = await conn.fetchval("SELECT count(*) FROM rpt_rollups")
        finally:
            await pool.close()
    return {
        "events": len(events),
        "seconds": round(seconds, 1),
        "events_per_s": round(len(events) / seconds),
        "rollup_rows": rollups,
    }


# -- run ----------------------------------------------------------------------------------------------------


async def named_database(name: str) -> tuple[str, bool]:
    """The URL of database ``name``, created if missing; whether it already holds a loaded read model."""
    admin = postgres_admin_url()
    conn = await asyncpg.connect(admin)
    try:
        if not await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = localstack.with_database(admin, name)
    conn = await asyncpg.connect(dsn)
    try:
        loaded = bool(await conn.fetchval("SELECT to_regclass('bench_meta') IS NOT NULL"))
    finally:
        await conn.close()
    return dsn, loaded


async def measure(dsn: str, samples: int, projection_attentions: int) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    meta = json.loads(await conn.fetchval("SELECT data FROM bench_meta"))
    await conn.close()
    load_before = round(os.getloadavg()[0], 2)
    api = await measure_api(dsn, samples)
    print("api", json.dumps(api), flush=True)
    bench_dir = str(Path(__file__).parent)
    export = child(EXPORT_CHILD.format(bench=bench_dir, dsn=dsn, client=BIG_CLIENT))
    raw_export = child(RAW_EXPORT_CHILD.format(dsn=dsn, client=BIG_CLIENT))
    xlsxwriter = child(XLSXWRITER_CHILD.format(rows=raw_export["rows"]))
    print("export", export, "raw", raw_export, "xlsxwriter", xlsxwriter, flush=True)
    projection = {}
    # A replay of two years (a rebuild: every batch touches rollup rows of many days) and one day of live
    # traffic (every batch adds to the same few day, month and year rows).
    for name, days in (("replay_of_two_years", 730.0), ("one_day_of_traffic", 1.0)):
        events = stream(projection_attentions, days)
        projection[name] = {
            "with_rollups": await projection_rate(events, True),
            "rollup_triggers_off": await projection_rate(events, False),
        }
    print("projection", projection, flush=True)
    return {
        "scale": meta.pop("scale"),
        "read_model": meta,
        **api,
        "xlsx_export_big_client": export,
        "raw_xlsx_cursor_to_writer_loop": raw_export,
        "raw_xlsxwriter_same_rows": xlsxwriter,
        "projection_through_the_consumer": projection,
        "targets": {"report_p95_ms": 300, "export_100k_s": 10, "export_peak_rss_mb": 300},
        "load_average_1m": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
    }


async def run(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.db:
        dsn, loaded = await named_database(args.db)
        if not loaded:
            print("loaded", await load(dsn, args.scale), flush=True)
        if args.load_only:
            return None
        return await measure(dsn, args.samples, args.projection_attentions)
    async with scratch_database("reports") as dsn:
        print("loaded", await load(dsn, args.scale), flush=True)
        return await measure(dsn, args.samples, args.projection_attentions)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M attentions, 3M events+tickets")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--projection-attentions", type=int, default=10_000)
    parser.add_argument(
        "--db", help="load into this database once and keep it (measure again without loading)"
    )
    parser.add_argument("--load-only", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    if results is None:
        return
    if results["scale"] == 1.0:
        print(write_results("reports", results))
    else:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
