"""Which rollup rows make up a period's figures (migration ``*_reports_rollups.sql``).

Rollups hold signed contributions per local day (grain ``d``), month (``m``, keyed by its first day) and year
(``y``, keyed by January 1st). A range of days is read as a few signed buckets: the whole years inside it,
then for each partial year either its whole months inside the range or the year minus the months outside
it (whichever takes fewer rows), and the same between months and days. So any range of up to two years is
at most a few dozen buckets, whatever the number of items:

- a figure counted *in* the period (opened, closed, ...) is the weighted sum over ``period`` buckets;
- a figure *at the end* (open, overdue) is a running sum up to the as-of day: every year row before the
  as-of day's year (a range, in the query) plus the weighted ``prefix`` buckets of that year up to the day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

Bucket = tuple[str, date]  # (grain, first day of the bucket)
ONE_DAY = timedelta(days=1)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return month_start(month_start(day) + timedelta(days=31))


def _units(first: date, last: date, grain: str) -> Iterator[tuple[date, date]]:
    """The (first, last) days of each year or month overlapping [first, last], clipped to it."""
    start = date(first.year, 1, 1) if grain == "y" else month_start(first)
    while start <= last:
        end = (date(start.year + 1, 1, 1) if grain == "y" else next_month(start)) - ONE_DAY
        yield start, end
        start = end + ONE_DAY


def cover(first: date, last: date, grain: str = "y") -> Counter[Bucket]:
    """Signed buckets of ``grain`` and finer whose weighted sum counts each day of [first, last] once."""
    out: Counter[Bucket] = Counter()
    if first > last:
        return out
    if grain == "d":
        day = first
        while day <= last:
            out[("d", day)] += 1
            day += ONE_DAY
        return out
    finer = "m" if grain == "y" else "d"
    for start, end in _units(first, last, grain):
        part_first, part_last = max(first, start), min(last, end)
        inside = cover(part_first, part_last, finer)
        if (part_first, part_last) != (start, end):
            outside = cover(start, part_first - ONE_DAY, finer)
            outside.update(cover(part_last + ONE_DAY, end, finer))  # update adds (and keeps) negative weights
            if len(outside) + 1 < len(inside):  # the whole unit minus what lies outside the range
                inside = Counter({(grain, start): 1})
                inside.subtract(outside)
        else:
            inside = Counter({(grain, start): 1})
        out.update(inside)
    return Counter({k: v for k, v in out.items() if v})


@dataclass(frozen=True)
class Buckets:
    start: date
    end: date
    as_of: date
    years_before: date = field(init=False)  # every year row before this day counts at the end
    period: Counter[Bucket] = field(init=False)
    prefix: Counter[Bucket] = field(init=False)

    def __post_init__(self) -> None:
        year = date(self.as_of.year, 1, 1)
        object.__setattr__(self, "years_before", year)
        object.__setattr__(self, "period", cover(self.start, self.end))
        object.__setattr__(self, "prefix", cover(year, self.as_of))

    @classmethod
    def of(cls, start: date, end: date, as_of: date) -> Buckets:
        return cls(start, end, as_of)

    def rows(self) -> tuple[list[str], list[date], list[int], list[int]]:
        """Grains, days, period weights and prefix weights, one entry per bucket (the query's arrays)."""
        keys = sorted(set(self.period) | set(self.prefix))
        return (
            [g for g, _ in keys],
            [d for _, d in keys],
            [self.period.get(k, 0) for k in keys],
            [self.prefix.get(k, 0) for k in keys],
        )
