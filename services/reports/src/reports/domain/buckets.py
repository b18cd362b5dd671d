"""Which rollup rows make up a period's figures (migration ``*_reports_rollups.sql``).

Rollups hold signed contributions per local day (grain ``d``) and per month (grain ``m``, keyed by its first
day). A figure counted *in* the period (opened, closed, ...) is the sum of the month rows of the whole months
inside the period plus the day rows of the days left at either end. A figure *at the end* (open, overdue)
is a running sum up to the as-of day: every month row before the as-of day's month (or through it, when the
as-of day ends its month), plus that month's day rows up to the as-of day. So a one-year report reads about
twelve month rows and a few dozen day rows per group, whatever the number of items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


def month_start(day: date) -> date:
    return day.replace(day=1)


@dataclass(frozen=True)
class Buckets:
    start: date  # first day of the period
    end: date  # last day of the period
    months_from: date  # month rows with months_from <= day < months_to are whole months inside the period;
    months_to: date  # day rows in [start, months_from) and [months_to, end] are the rest of the period
    as_of: date  # the day "at the end" figures are counted on
    prefix_to: date  # month rows before prefix_to, and day rows in [prefix_to, as_of], sum up to as_of

    @classmethod
    def of(cls, start: date, end: date, as_of: date) -> Buckets:
        after = end + timedelta(days=1)
        first = start if start.day == 1 else month_start(month_start(start) + timedelta(days=31))
        last = month_start(after)  # the first month not wholly inside the period
        if first >= last:  # no whole month: the day rows cover the period
            first = last = after
        return cls(start, end, first, last, as_of, month_start(as_of + timedelta(days=1)))

    def period_days(self, grain: str, day: date) -> bool:
        """Whether the rollup row (grain, day) is one of the period's rows (the Python twin of the SQL)."""
        if grain == "m":
            return self.months_from <= day < self.months_to
        return self.start <= day < self.months_from or self.months_to <= day <= self.end

    def prefix_days(self, grain: str, day: date) -> bool:
        """Whether the rollup row (grain, day) is one of the rows summed up to the as-of day."""
        if grain == "m":
            return day < self.prefix_to
        return self.prefix_to <= day <= self.as_of
