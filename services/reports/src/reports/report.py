"""Builds the reports: the read model's rows, the figures of ``domain.figures``, the chart data."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
from crmkit.db import Connection

from reports.domain.buckets import Buckets
from reports.domain.figures import KINDS, Item, rate, summary, weekly
from reports.domain.period import TIMEZONE, Period
from reports.store import queries
from reports.store.queries import SubjectColumn, Viewer, Window

ROW_LIMIT = 5000  # rows per kind in the JSON answer; the figures always cover every row (exports: all rows)


@dataclass(frozen=True)
class SubjectRef:
    column: SubjectColumn
    key: Any


def window(period: Period, today: date) -> Window:
    return Window(period.since, period.until, period.as_of(today))


async def find_subject(conn: Connection, ref: SubjectRef, viewer: Viewer) -> dict[str, Any] | None:
    """The subject when the viewer may see it; None (answered 404) when unknown or not visible."""
    if ref.column == "nic":
        point = await queries.supply_point(conn, ref.key)
        if point is None:
            return None
        return {
            "kind": "supply_point",
            "nic": point["nic"],
            "client_id": None,
            "name": point["name"],
            "code": None,
            "client_kind": "supply_point",
        }
    found = await queries.client(conn, ref.key)
    if found is None or not (viewer.all_clients or ref.key in viewer.visible):
        return None
    return {
        "kind": "client",
        "client_id": str(found["client_id"]),
        "nic": None,
        "name": found["name"],
        "code": found["code"],
        "client_kind": "internal" if found["internal"] else found["kind"],
    }


def item_of(kind: str, row: dict[str, Any]) -> Item:
    if kind == "event":
        return Item(
            "event",
            row["opened_at"],
            row["closed_at"],
            row["internal_commitment_date"],
            row["client_commitment_date"],
        )
    if kind == "ticket":
        return Item(
            "ticket", row["opened_at"], row["closed_at"], row["due_date"], None, tuple(row["reopens"])
        )
    return Item("attention", row["opened_at"], row["closed_at"])


def row_out(kind: str, row: dict[str, Any], item: Item, as_of: date) -> dict[str, Any]:
    out = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in row.items() if k != "reopens"}
    if kind == "attention" or kind == "event":
        out["status"] = "closed" if row["closed_at"] is not None else "open"
    if kind in ("event", "ticket"):
        out["overdue"] = item.overdue_at(as_of)
    if kind == "event":
        closed = row["closed_at"]
        local = closed.astimezone(TIMEZONE).date() if closed is not None else None
        out["internal_kept"] = None if local is None else local <= row["internal_commitment_date"]
        out["client_kept"] = None if local is None else local <= row["client_commitment_date"]
    if kind == "ticket":
        out["reopens"] = len(row["reopens"])
    return out


async def subject_report(
    conn: Connection, subject: dict[str, Any], ref: SubjectRef, period: Period, today: date
) -> dict[str, Any]:
    w = window(period, today)
    items: list[Item] = []
    rows: dict[str, list[dict[str, Any]]] = {}
    truncated = False
    for kind in KINDS:
        fetched = await queries.subject_rows(conn, kind, ref.column, ref.key, period.since, period.until)
        pairs = [(r, item_of(kind, r)) for r in fetched]
        items.extend(i for _, i in pairs)
        truncated = truncated or len(pairs) > ROW_LIMIT
        rows[f"{kind}s"] = [row_out(kind, r, i, w.as_of) for r, i in pairs[:ROW_LIMIT]]
    return {
        "subject": subject,
        "period": period_out(period),
        "summary": summary(items, period, today),
        **rows,
        "rows_truncated": truncated,
        "charts": {"weekly": weekly(items, period)},
    }


def period_out(period: Period) -> dict[str, str]:
    return {"from": period.start.isoformat(), "to": period.end.isoformat(), "timezone": str(TIMEZONE)}


US_PER_DAY = 86_400 * 1_000_000


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    closed = row["closed"]
    return {
        "opened": row["opened"],
        "closed": closed,
        "open_at_end": row["open_at_end"],
        "overdue": row["overdue"],
        "avg_days_to_close": round(row["closed_us"] / US_PER_DAY / closed, 2) if closed else None,
    }


COUNTS = ("opened", "closed", "open_at_end", "overdue", "closed_us", "internal_kept", "client_kept")


def _add(into: dict[str, Any], row: dict[str, Any]) -> None:
    for key in COUNTS:
        if key in row:
            into[key] = into.get(key, 0) + row[key]


def _compliance(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "internal_kept": row["internal_kept"],
        "client_kept": row["client_kept"],
        "internal_kept_rate": rate(row["internal_kept"], row["closed"]),
        "client_kept_rate": rate(row["client_kept"], row["closed"]),
        "promise_kept_rate": rate(row["client_kept"], row["closed"]),
    }


def _listed(row: dict[str, Any]) -> bool:
    """A group is listed when one of its items was opened or closed in the period or is open at its end."""
    return bool(row["opened"] or row["closed"] or row["open_at_end"])


ZERO = {"opened": 0, "closed": 0, "open_at_end": 0, "overdue": 0, "closed_us": 0}
EMPTY_EVENTS = {**ZERO, "internal_kept": 0, "client_kept": 0}


async def overview_report(pool: asyncpg.Pool, period: Period, today: date, viewer: Viewer) -> dict[str, Any]:
    w = window(period, today)
    raw = await queries.overview(pool, Buckets.of(period.start, period.end, w.as_of), viewer)
    rows = [r for r in raw["figures"] if _listed(r)]

    people: dict[tuple[str, str | None], dict[str, Any]] = {}  # tickets by (area, responsible person)
    for r in (r for r in rows if r["family"] == "ticket"):
        key = (r["k1"], r["k2"])
        _add(people.setdefault(key, {"area": r["k1"], "user_id": r["k2"], "name": r["person_name"]}), r)
    areas: dict[str, dict[str, Any]] = defaultdict(lambda: {"tickets": dict(ZERO), "events": None})
    for person in people.values():
        _add(areas[person["area"]]["tickets"], person)
    for r in (r for r in rows if r["family"] == "event"):  # by the creator's area in the staff directory
        area = areas[r["creator_area"] or ""]
        area["events"] = area["events"] or dict(EMPTY_EVENTS)
        _add(area["events"], r)
    by_area: list[dict[str, Any]] = [
        {
            "area": area,
            "tickets": _figures(a["tickets"]),
            "events": _figures(a["events"] or EMPTY_EVENTS) | _compliance(a["events"] or EMPTY_EVENTS),
        }
        for area, a in sorted(areas.items())
    ]
    by_responsible = [
        {"user_id": p["user_id"], "name": p["name"], "area": p["area"], **_figures(p)}
        for p in sorted(people.values(), key=lambda p: (p["area"], p["name"] or ""))
    ]
    channels = sorted((r for r in rows if r["family"] == "attention"), key=lambda r: r["k1"])
    by_channel = [{"channel": r["k1"], **_figures(r)} for r in channels]
    kinds: dict[str, dict[str, int]] = defaultdict(dict)
    for r in (r for r in rows if r["family"] == "kind"):
        kinds[r["class"]][f"{r['k1']}s_opened"] = r["opened"]
        kinds[r["class"]][f"{r['k1']}s_closed"] = r["closed"]
    by_client_kind = [
        {
            "client_kind": k,
            **{f"{kind}s_{w_}": v.get(f"{kind}s_{w_}", 0) for kind in KINDS for w_ in ("opened", "closed")},
        }
        for k, v in sorted(kinds.items())
    ]

    tickets_total, events_total, attentions_total = dict(ZERO), dict(EMPTY_EVENTS), dict(ZERO)
    for a in areas.values():
        _add(tickets_total, a["tickets"])
        if a["events"]:
            _add(events_total, a["events"])
    for r in channels:
        _add(attentions_total, r)

    weeks = {
        monday: {f"{k}s_{what}": 0 for k in KINDS for what in ("opened", "closed")}
        for monday in period.weeks()
    }
    for r in raw["weekly"]:
        for what in ("opened", "closed"):
            weeks[r["week"]][f"{r['fact']}s_{what}"] += r[what]
    weekly_chart = [
        {
            "week_start": monday.isoformat(),
            **counts,
            "opened": sum(counts[f"{k}s_opened"] for k in KINDS),
            "closed": sum(counts[f"{k}s_closed"] for k in KINDS),
        }
        for monday, counts in weeks.items()
    ]
    return {
        "period": period_out(period),
        "summary": {
            "as_of": w.as_of.isoformat(),
            "attentions": _figures(attentions_total),
            "events": _figures(events_total) | _compliance(events_total),
            "tickets": _figures(tickets_total),
        },
        "by_area": by_area,
        "by_responsible": by_responsible,
        "by_channel": by_channel,
        "by_client_kind": by_client_kind,
        "charts": {
            "weekly": weekly_chart,
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
