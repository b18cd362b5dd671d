"""A report period: inclusive local dates in America/El_Salvador, turned into UTC instants for queries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

TIMEZONE = ZoneInfo("America/El_Salvador")
MAX_DAYS = 731  # two years: a one-year report and its comparison year fit, a decade does not
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)  # keeps every bound a representable instant


class PeriodError(ValueError):
    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.rule, self.message = field, rule, message


@dataclass(frozen=True)
class Period:
    start: date  # first local day, inclusive
    end: date  # last local day, inclusive

    @classmethod
    def of(cls, start: date, end: date) -> Period:
        for field, day in (("from", start), ("to", end)):
            if not EARLIEST <= day <= LATEST:
                raise PeriodError(field, "out_of_range", f"`{field}` must be between {EARLIEST} and {LATEST}")
        if end < start:
            raise PeriodError("to", "range_order", "`to` must not be before `from`")
        if (end - start).days + 1 > MAX_DAYS:
            raise PeriodError("to", "period_too_long", f"a report covers at most {MAX_DAYS} days")
        return cls(start, end)

    # Cached and in UTC: ``contains`` runs several times per row of an export, and comparing with the UTC
    # instants the database returns is quickest with the same tzinfo.
    @cached_property
    def since(self) -> datetime:
        """First instant of the period (local midnight of ``start``)."""
        return datetime.combine(self.start, time(), TIMEZONE).astimezone(UTC)

    @cached_property
    def until(self) -> datetime:
        """First instant after the period (local midnight after ``end``): the bound is exclusive."""
        return datetime.combine(self.end + timedelta(days=1), time(), TIMEZONE).astimezone(UTC)

    def contains(self, moment: datetime | None) -> bool:
        return moment is not None and self.since <= moment < self.until

    def as_of(self, today: date) -> date:
        """The day overdue items are counted on: the period's last day, or today for a running period."""
        return min(self.end, today)

    def weeks(self) -> Iterator[date]:
        """Mondays of the weeks the period touches (chart buckets)."""
        monday = week_of(self.start)
        while monday <= self.end:
            yield monday
            monday += timedelta(days=7)


def local_date(moment: datetime) -> date:
    return moment.astimezone(TIMEZONE).date()


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())
