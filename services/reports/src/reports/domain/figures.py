"""The figures of a report, defined once in plain Python (the overview's SQL follows the same rules).

Definitions (docs/reports.md repeats them for users):
- opened in the period: the item's opening instant falls in the period (attention: when the interaction
  happened; event: when it was created; ticket: when it was assigned);
- closed in the period: the item is closed now and its (latest) closure falls in the period. A ticket
  closed in the period and reopened is *not* closed: it counts as open and as reopened; closed again,
  it counts once, on its latest closure;
- open at the end: opened on or before the as-of day and not closed by its end;
- overdue: open at the end of the as-of day and its due date (event: internal commitment date; ticket:
  due date) is before the as-of day. The as-of day is the period's last day, or today while it runs;
- promise kept: of the events closed in the period, the share closed on or before the internal date and
  on or before the client date (``promise_kept_rate`` is the client-date one, the promise to the client);
- average days to close: mean of closure minus opening, in days, over the items closed in the period.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from reports.domain.period import Period, local_date, week_of

Kind = Literal["attention", "event", "ticket"]
KINDS: tuple[Kind, ...] = ("attention", "event", "ticket")


@dataclass(frozen=True)
class Item:
    kind: Kind
    opened_at: datetime | None
    closed_at: datetime | None  # None unless closed now
    due: date | None = None  # event: internal commitment date; ticket: due date
    client_due: date | None = None  # event: client commitment date
    reopens: tuple[datetime, ...] = field(default=())  # tickets: every reopen

    def opened_in(self, period: Period) -> bool:
        return period.contains(self.opened_at)

    def closed_in(self, period: Period) -> bool:
        return period.contains(self.closed_at)

    def open_at(self, day: date) -> bool:
        if self.opened_at is None or local_date(self.opened_at) > day:
            return False
        return self.closed_at is None or local_date(self.closed_at) > day

    def overdue_at(self, day: date) -> bool:
        return self.due is not None and self.due < day and self.open_at(day)

    def reopened_in(self, period: Period) -> bool:
        return any(period.contains(r) for r in self.reopens)

    def in_report(self, period: Period, as_of: date) -> bool:
        return self.opened_in(period) or self.closed_in(period) or self.overdue_at(as_of)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def mean_days(items: Iterable[Item]) -> float | None:
    spans = [
        (i.closed_at - i.opened_at).total_seconds() / 86400
        for i in items
        if i.closed_at is not None and i.opened_at is not None
    ]
    return round(sum(spans) / len(spans), 2) if spans else None


def kind_figures(items: Sequence[Item], period: Period, as_of: date) -> dict[str, Any]:
    closed = [i for i in items if i.closed_in(period)]
    figures: dict[str, Any] = {
        "opened": sum(1 for i in items if i.opened_in(period)),
        "closed": len(closed),
        "open_at_end": sum(1 for i in items if i.open_at(as_of)),
        "overdue": sum(1 for i in items if i.overdue_at(as_of)),
        "avg_days_to_close": mean_days(closed),
    }
    return figures


def compliance(events: Sequence[Item], period: Period) -> dict[str, Any]:
    closed = [(e, local_date(e.closed_at)) for e in events if e.closed_at is not None and e.closed_in(period)]
    internal = sum(1 for e, day in closed if e.due is not None and day <= e.due)
    client = sum(1 for e, day in closed if e.client_due is not None and day <= e.client_due)
    return {
        "internal_kept": internal,
        "client_kept": client,
        "internal_kept_rate": rate(internal, len(closed)),
        "client_kept_rate": rate(client, len(closed)),
        "promise_kept_rate": rate(client, len(closed)),
    }


def summary(items: Sequence[Item], period: Period, today: date) -> dict[str, Any]:
    """The summary block of a report over every item of one subject (or any set of items)."""
    as_of = period.as_of(today)
    by_kind = {kind: [i for i in items if i.kind == kind] for kind in KINDS}
    events = kind_figures(by_kind["event"], period, as_of) | compliance(by_kind["event"], period)
    tickets = kind_figures(by_kind["ticket"], period, as_of)
    tickets["reopened"] = sum(1 for t in by_kind["ticket"] if t.reopened_in(period))
    tickets["reopens"] = sum(1 for t in by_kind["ticket"] for r in t.reopens if period.contains(r))
    return {
        "as_of": as_of.isoformat(),
        "attentions": kind_figures(by_kind["attention"], period, as_of),
        "events": events,
        "tickets": tickets,
    }


def weekly(items: Iterable[Item], period: Period) -> list[dict[str, Any]]:
    """Opened vs closed per week (Monday-based local weeks), per kind and in total."""
    buckets = {
        monday: {f"{k}s_{what}": 0 for k in KINDS for what in ("opened", "closed")}
        for monday in period.weeks()
    }
    for item in items:
        for what, moment in (("opened", item.opened_at), ("closed", item.closed_at)):
            if moment is not None and period.contains(moment):
                buckets[week_of(local_date(moment))][f"{item.kind}s_{what}"] += 1
    return [
        {
            "week_start": monday.isoformat(),
            **counts,
            "opened": sum(counts[f"{k}s_opened"] for k in KINDS),
            "closed": sum(counts[f"{k}s_closed"] for k in KINDS),
        }
        for monday, counts in buckets.items()
    ]
