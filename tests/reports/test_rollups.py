"""The rollups behind the overview agree with the read model's rows, on the real PostgreSQL.

Random histories (fixed seeds) are projected with the very statements the event handlers run, in a shuffled
order and in transactions of random sizes, including closures before openings, tickets closed, reopened and
closed again, clients that arrive after their rows or change kind, a staff member who changes area, and an
access list with a revoke. Then:
- the maintained rollups equal the ones computed from the rows (view ``rpt_rollups_expected``);
- the overview (from the rollups) equals a reference overview computed in Python from the rows with the
  figure definitions of ``domain.figures``, for an admin and an agent, over calendar years, rolling years,
  single days, periods inside a month, across new year and a running period;
- emptied and projected again in another order (a rebuild), the rollups are the same.
And a client's kind change racing a row's insertion leaves no row under the old kind.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
from crmkit.db import create_pool, migrate
from reports.domain.figures import KINDS, Item, KindTally, weekly
from reports.domain.period import Period
from reports.report import overview_report, period_out
from reports.service import MIGRATIONS
from reports.store import projection as sql
from reports.store.queries import Viewer, visible_clients
from rpt_support import assert_rollups_agree

pytestmark = pytest.mark.integration

SV = timezone(timedelta(hours=-6))
TODAY = date(2026, 3, 15)
AREAS = ["Atención al Cliente", "Gerencia Técnica", "Comercial"]
CHANNELS = ["phone", "email", "letter", "visit", "web", "other"]
Statement = tuple[str, tuple[Any, ...]]

PERIODS = [
    Period.of(date(2025, 1, 1), date(2025, 12, 31)),  # a calendar year: month rows only
    Period.of(date(2025, 2, 15), date(2026, 2, 14)),  # a rolling year: days at both ends
    Period.of(date(2025, 3, 10), date(2025, 3, 20)),  # inside one month
    Period.of(date(2025, 6, 1), date(2025, 6, 30)),  # one whole month
    Period.of(date(2024, 12, 31), date(2025, 1, 1)),  # across new year, before most of the data
    Period.of(date(2025, 9, 17), date(2025, 9, 17)),  # one day
    Period.of(date(2026, 1, 1), date(2026, 6, 30)),  # running: counted on TODAY
]


@pytest.fixture
async def pool(new_database: Callable[[str], Any]) -> AsyncIterator[asyncpg.Pool]:
    url = await new_database("rpt_rollups")
    await migrate(url, [MIGRATIONS])
    pool = await create_pool(url, max_size=4)
    yield pool
    await pool.close()


def at(rng: random.Random, low: datetime, days: float) -> datetime:
    """An instant up to ``days`` after ``low``; a third of them in the minutes around local midnight."""
    moment = low + timedelta(seconds=rng.uniform(0, days * 86400))
    if rng.random() < 0.33:
        midnight = datetime.combine(moment.astimezone(SV).date(), datetime.min.time(), SV)
        moment = midnight + timedelta(minutes=rng.choice([-20, -1, 0, 1, 20]))
    return moment.replace(microsecond=rng.randrange(1_000_000))


def history(seed: int) -> tuple[list[Statement], list[uuid.UUID]]:
    """Every statement a random history makes the projection run, in the order things happened."""
    rng = random.Random(seed)
    out: list[Statement] = []
    t0 = datetime(2025, 1, 1, tzinfo=SV)
    staff = [(f"u{i}", f"Persona {i}", AREAS[i % 3]) for i in range(6)]
    for user, name, area in staff:
        out.append((sql.UPSERT_STAFF, (user, name, area, t0)))
    out.append((sql.UPSERT_STAFF, ("u1", "Persona 1", "Comercial", t0 + timedelta(days=30))))  # moves area
    clients = [uuid.UUID(int=seed * 100 + i) for i in range(7)]  # the last one never arrives
    for n, client in enumerate(clients[:6]):
        kinds = [rng.choice(["prospect", "stakeholder"]) for _ in range(rng.randint(1, 3))]
        for v, kind in enumerate(kinds):  # successive versions: the latest wins whatever the order
            out.append(
                (
                    sql.UPSERT_CLIENT,
                    (client, f"CLI-{n}", kind, n == 5, f"Cliente {n}", t0 + timedelta(days=v)),
                )
            )
    for client in clients[:3]:
        out.append((sql.UPSERT_ACCESS, (client, "u-agent", True, t0)))
    out.append((sql.UPSERT_ACCESS, (clients[2], "u-agent", False, t0 + timedelta(days=1))))  # revoked

    n_event = n_ticket = 0
    for a in range(90):
        attention = uuid.uuid4()
        if rng.random() < 0.6:
            subject: tuple[Any, ...] = ("client", rng.choice(clients), None)
        else:
            subject = ("supply_point", None, f"N{rng.randrange(5)}")
        opened = at(rng, t0 - timedelta(days=20), 500)
        who = rng.choice(staff)[0]
        out.append(
            (
                sql.OPEN_ATTENTION,
                (attention, f"ATN-{a}", *subject, "Sujeto", rng.choice(CHANNELS), "Resumen", who, opened),
            )
        )
        if rng.random() < 0.6:
            out.append((sql.CLOSE_ATTENTION, (attention, at(rng, opened, 40), who)))
        for _ in range(rng.choice([0, 1, 1, 2])):
            event, n_event = uuid.uuid4(), n_event + 1
            created = at(rng, opened, 3)
            day = created.astimezone(SV).date()
            internal = day + timedelta(days=rng.randint(-3, 15))
            promised = internal + timedelta(days=rng.randint(0, 10))
            creator = rng.choice(staff)[0]
            out.append(
                (
                    sql.OPEN_EVENT,
                    (
                        event,
                        attention,
                        f"EVT-{n_event}",
                        *subject,
                        "Evento",
                        internal,
                        promised,
                        creator,
                        created,
                    ),
                )
            )
            if rng.random() < 0.6:
                out.append((sql.CLOSE_EVENT, (event, attention, at(rng, created, 30), creator)))
            for _ in range(rng.choice([0, 1, 2])):
                ticket, n_ticket = uuid.uuid4(), n_ticket + 1
                assigned = at(rng, created, 1)
                person, name, area = rng.choice(staff)
                if rng.random() < 0.1:
                    name += " (antes)"  # renamed since: the overview shows the greatest of the names
                due = assigned.astimezone(SV).date() + timedelta(days=rng.randint(-2, 12))
                out.append(
                    (
                        sql.ASSIGN_TICKET,
                        (
                            ticket,
                            event,
                            attention,
                            f"TCK-{n_ticket}",
                            *subject,
                            "Tarea",
                            person,
                            name,
                            area,
                            due,
                            assigned,
                        ),
                    )
                )
                moment = assigned + timedelta(hours=1)
                out.append((sql.CHANGE_TICKET_STATUS, (ticket, event, attention, "accepted", moment, None)))
                for _ in range(rng.choice([0, 1, 1, 2, 3])):  # closed, reopened, closed again...
                    moment = at(rng, moment, 10)
                    out.append(
                        (sql.CHANGE_TICKET_STATUS, (ticket, event, attention, "closed", moment, moment))
                    )
                    if rng.random() < 0.4:
                        moment = at(rng, moment, 3)
                        out.append(
                            (sql.CHANGE_TICKET_STATUS, (ticket, event, attention, "reopened", moment, None))
                        )
                        out.append((sql.RECORD_REOPEN, (ticket, moment)))
    return out, clients


async def project(pool: asyncpg.Pool, statements: list[Statement], rng: random.Random) -> None:
    """Run the statements shuffled, in transactions of 1 to 60 statements."""
    shuffled = statements[:]
    rng.shuffle(shuffled)
    while shuffled:
        size = rng.randint(1, 60)
        chunk, shuffled = shuffled[:size], shuffled[size:]
        async with pool.acquire() as conn, conn.transaction():
            for statement, args in chunk:
                await conn.execute(statement, *args)


# -- the reference: the overview computed in Python from the rows -------------------------------------------


async def reference_overview(conn: Any, period: Period, today: date, viewer: Viewer) -> dict[str, Any]:
    as_of = period.as_of(today)
    staff = {r["user_id"]: r["area"] for r in await conn.fetch("SELECT user_id, area FROM rpt_staff")}
    kinds = {
        r["client_id"]: "internal" if r["internal"] else r["kind"]
        for r in await conn.fetch("SELECT client_id, kind, internal FROM rpt_clients")
    }

    def rows(table: str) -> Any:
        return conn.fetch(f"SELECT * FROM {table} WHERE opened_at IS NOT NULL")  # no opening: in no report

    def visible(r: Any) -> bool:
        return r["subject_kind"] == "supply_point" or viewer.all_clients or r["client_id"] in viewer.visible

    def kind_of(r: Any) -> str:
        return "supply_point" if r["subject_kind"] == "supply_point" else kinds.get(r["client_id"], "unknown")

    def active(i: Item) -> bool:
        return i.opened_in(period) or i.closed_in(period) or i.open_at(as_of)

    def tally(items: list[Item]) -> KindTally:
        t = KindTally(period, as_of)
        for i in items:
            t.add(i)
        return t

    everything: list[Item] = []
    by_kind: dict[str, dict[str, list[Item]]] = defaultdict(lambda: defaultdict(list))
    channels: dict[str, list[Item]] = defaultdict(list)
    event_areas: dict[str, list[Item]] = defaultdict(list)
    people: dict[tuple[str, str], list[tuple[Item, str]]] = defaultdict(list)
    for r in filter(visible, await rows("rpt_attentions")):
        item = Item("attention", r["opened_at"], r["closed_at"])
        channels[r["channel"]].append(item)
        by_kind[kind_of(r)]["attention"].append(item)
        everything.append(item)
    for r in filter(visible, await rows("rpt_events")):
        due, promised = r["internal_commitment_date"], r["client_commitment_date"]
        item = Item("event", r["opened_at"], r["closed_at"], due, promised)
        event_areas[staff.get(r["created_by"]) or ""].append(item)
        by_kind[kind_of(r)]["event"].append(item)
        everything.append(item)
    for r in filter(visible, await rows("rpt_tickets")):
        closed = r["closed_at"] if r["status"] == "closed" else None
        item = Item("ticket", r["opened_at"], closed, r["due_date"])
        people[(r["area"] or "", r["responsible_id"])].append((item, r["responsible_name"]))
        by_kind[kind_of(r)]["ticket"].append(item)
        everything.append(item)

    listed_people = {k: v for k, v in people.items() if any(active(i) for i, _ in v)}
    listed_areas = {k: v for k, v in event_areas.items() if any(map(active, v))}
    by_area = []
    for area in sorted({a for a, _ in listed_people} | set(listed_areas)):
        tickets = tally([i for (a, _), v in listed_people.items() if a == area for i, _ in v])
        events = tally(listed_areas.get(area, []))
        by_area.append(
            {"area": area, "tickets": tickets.figures(), "events": events.figures() | events.compliance()}
        )
    by_responsible = [
        {
            "user_id": user,
            "name": max((name for i, name in v if active(i) and name is not None), default=None),
            "area": area,
            **tally([i for i, _ in v]).figures(),
        }
        for (area, user), v in listed_people.items()
    ]
    by_channel = [
        {"channel": c, **tally(v).figures()} for c, v in sorted(channels.items()) if any(map(active, v))
    ]
    by_client_kind = []
    for kind, facts in sorted(by_kind.items()):
        if any(active(i) for v in facts.values() for i in v):
            counts = {f"{k}s_opened": tally(facts[k]).opened for k in KINDS}
            counts |= {f"{k}s_closed": tally(facts[k]).closed for k in KINDS}
            by_client_kind.append({"client_kind": kind} | counts)
    events_total = tally([i for i in everything if i.kind == "event"])
    return {
        "period": period_out(period),
        "summary": {
            "as_of": as_of.isoformat(),
            "attentions": tally([i for i in everything if i.kind == "attention"]).figures(),
            "events": events_total.figures() | events_total.compliance(),
            "tickets": tally([i for i in everything if i.kind == "ticket"]).figures(),
        },
        "by_area": by_area,
        "by_responsible": sorted(by_responsible, key=_person),
        "by_channel": by_channel,
        "by_client_kind": by_client_kind,
        "charts": {
            "weekly": weekly(everything, period),
            "compliance_by_area": [
                {
                    "area": a["area"],
                    "events_closed": a["events"]["closed"],
                    "internal_kept_rate": a["events"]["internal_kept_rate"],
                    "client_kept_rate": a["events"]["client_kept_rate"],
                }
                for a in by_area
                if a["events"]["closed"]
            ],
        },
    }


def _person(p: dict[str, Any]) -> tuple[str, str, str]:
    return (p["area"], p["name"] or "", p["user_id"] or "")


async def assert_overviews_match_the_rows(pool: asyncpg.Pool) -> int:
    checked = 0
    async with pool.acquire() as conn:
        viewers = [Viewer("u-admin", True), Viewer("u-agent", False, await visible_clients(conn, "u-agent"))]
        assert len(viewers[1].visible) == 2
        for viewer in viewers:
            for period in PERIODS:
                report = await overview_report(pool, period, TODAY, viewer)
                report["by_responsible"].sort(key=_person)
                expected = await reference_overview(conn, period, TODAY, viewer)
                assert report == expected, (viewer.user_id, period)
                checked += sum(r["opened"] + r["closed"] + r["open_at_end"] for r in report["by_channel"])
    return checked


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_rollups_and_overview_agree_with_the_rows_in_any_order_and_after_a_rebuild(
    pool: asyncpg.Pool, seed: int
) -> None:
    statements, _ = history(seed)
    rng = random.Random(seed)
    await project(pool, statements, rng)
    await assert_rollups_agree(pool)
    assert await assert_overviews_match_the_rows(pool) > 100  # the periods are not empty
    async with pool.acquire() as conn:
        before = sorted(map(tuple, await conn.fetch("SELECT * FROM rpt_rollups_expected")))
        async with conn.transaction():
            await sql.truncate(conn, "reports")
    await project(pool, statements, rng)  # another order, other transactions
    await assert_rollups_agree(pool)
    async with pool.acquire() as conn:
        assert sorted(map(tuple, await conn.fetch("SELECT * FROM rpt_rollups_expected"))) == before


async def test_a_kind_change_racing_a_new_row_leaves_nothing_under_the_old_kind(pool: asyncpg.Pool) -> None:
    """The client arrives (unknown -> prospect) while a transaction adds one of its rows: whichever commits
    first, the row ends up counted under the client's kind."""
    for first in ("row", "client"):
        client, attention = uuid.uuid4(), uuid.uuid4()
        opened = datetime(2025, 5, 5, 10, tzinfo=SV)
        row = (attention, "ATN-R", "client", client, None, "S", "phone", "R", "u0", opened)
        upsert = (client, "CLI-R", "prospect", False, "Cliente", opened)
        async with pool.acquire() as a, pool.acquire() as b:
            ta, tb = a.transaction(), b.transaction()
            await ta.start()
            await tb.start()
            if first == "row":
                await a.execute(sql.OPEN_ATTENTION, *row)  # holds its client's lock (shared) until commit
                blocked = asyncio.ensure_future(b.execute(sql.UPSERT_CLIENT, *upsert))
                await asyncio.sleep(0.3)
                assert not blocked.done()  # the kind change waits for the row's transaction
                await ta.commit()
                await blocked
                await tb.commit()
            else:
                await b.execute(sql.UPSERT_CLIENT, *upsert)
                blocked = asyncio.ensure_future(a.execute(sql.OPEN_ATTENTION, *row))
                await asyncio.sleep(0.3)
                assert not blocked.done()
                await tb.commit()
                await blocked
                await ta.commit()
        await assert_rollups_agree(pool)
        async with pool.acquire() as conn:
            kinds = await conn.fetch(
                "SELECT class, sum(opened) AS n FROM rpt_rollups WHERE family = 'kind' AND grain = 'd'"
                " AND day = '2025-05-05' GROUP BY class HAVING sum(opened) <> 0"
            )
            assert [(r["class"], r["n"]) for r in kinds] == [("prospect", 1 if first == "row" else 2)]
