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


@dataclass
class KindTally:
    """The figures of a set of items of one kind, added one item at a time (an export counts its rows as it
    writes them, without keeping them)."""

    period: Period
    as_of: date
    opened: int = 0
    closed: int = 0
    open_at_end: int = 0
    overdue: int = 0
    days: float = 0.0  # closure minus opening, in days, summed over the closed items that have both
    timed: int = 0
    internal_kept: int = 0
    client_kept: int = 0
    reopened: int = 0
    reopens: int = 0

    def add(self, item: Item) -> None:
        period = self.period
        self.opened += item.opened_in(period)
        if item.closed_at is not None and item.closed_in(period):
            self.closed += 1
            if item.opened_at is not None:
                self.days += (item.closed_at - item.opened_at).total_seconds() / 86400
                self.timed += 1
            day = local_date(item.closed_at)
            self.internal_kept += item.due is not None and day <= item.due
            self.client_kept += item.client_due is not None and day <= item.client_due
        if item.open_at(self.as_of):  # overdue_at, without computing open_at twice
            self.open_at_end += 1
            self.overdue += item.due is not None and item.due < self.as_of
        if item.reopens:
            self.reopened += item.reopened_in(period)
            self.reopens += sum(1 for r in item.reopens if period.contains(r))

    def figures(self) -> dict[str, Any]:
        return {
            "opened": self.opened,
            "closed": self.closed,
            "open_at_end": self.open_at_end,
            "overdue": self.overdue,
            "avg_days_to_close": round(self.days / self.timed, 2) if self.timed else None,
        }

    def compliance(self) -> dict[str, Any]:
        return {
            "internal_kept": self.internal_kept,
            "client_kept": self.client_kept,
            "internal_kept_rate": rate(self.internal_kept, self.closed),
            "client_kept_rate": rate(self.client_kept, self.closed),
            "promise_kept_rate": rate(self.client_kept, self.closed),
        }


def _tally(items: Iterable[Item], period: Period, as_of: date) -> KindTally:
    tally = KindTally(period, as_of)
    for item in items:
        tally.add(item)
    return tally


def kind_figures(items: Sequence[Item], period: Period, as_of: date) -> dict[str, Any]:
    return _tally(items, period, as_of).figures()


def compliance(events: Sequence[Item], period: Period) -> dict[str, Any]:
    return _tally(events, period, period.end).compliance()


class Tally:
    """The summary block of a report, added one item at a time."""

    def __init__(self, period: Period, today: date) -> None:
        self.as_of = period.as_of(today)
        self.kinds = {kind: KindTally(period, self.as_of) for kind in KINDS}

    def add(self, item: Item) -> None:
        self.kinds[item.kind].add(item)

    def summary(self) -> dict[str, Any]:
        events, tickets = self.kinds["event"], self.kinds["ticket"]
        return {
            "as_of": self.as_of.isoformat(),
            "attentions": self.kinds["attention"].figures(),
            "events": events.figures() | events.compliance(),
            "tickets": tickets.figures() | {"reopened": tickets.reopened, "reopens": tickets.reopens},
        }


def summary(items: Iterable[Item], period: Period, today: date) -> dict[str, Any]:
    """The summary block of a report over every item of one subject (or any set of items)."""
    tally = Tally(period, today)
    for item in items:
        tally.add(item)
    return tally.summary()


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
