"""Which rollup rows make up a period (domain.buckets), checked day by day against the period itself."""

from __future__ import annotations

import random
from datetime import date, timedelta

from reports.domain.buckets import Buckets, month_start

HORIZON = (date(2023, 1, 1), date(2028, 12, 31))  # every rollup row of the test lies in here


def rows() -> list[tuple[str, date]]:
    days = [HORIZON[0] + timedelta(days=n) for n in range((HORIZON[1] - HORIZON[0]).days + 1)]
    return [("d", d) for d in days] + [("m", d) for d in days if d.day == 1]


ROWS = rows()


def covered(chosen: list[tuple[str, date]]) -> list[date]:
    """The days the chosen rows stand for (a month row stands for every day of its month)."""
    out: list[date] = []
    for grain, day in chosen:
        if grain == "d":
            out.append(day)
        else:
            nxt = month_start(day + timedelta(days=31))
            out += [day + timedelta(days=n) for n in range((nxt - day).days)]
    return sorted(out)


def span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def check(start: date, end: date, as_of: date) -> None:
    b = Buckets.of(start, end, as_of)
    period = [r for r in ROWS if b.period_days(*r)]
    prefix = [r for r in ROWS if b.prefix_days(*r)]
    # Each day of the period exactly once (no day counted twice through its day row and its month row).
    assert covered(period) == span(start, end), (start, end)
    assert covered(prefix) == span(HORIZON[0], as_of), as_of
    # Month rows only for whole months: a year reads 12 of them and no day row.
    assert all(b.months_from <= d < b.months_to for g, d in period if g == "m")


def test_a_calendar_year_is_twelve_month_rows() -> None:
    b = Buckets.of(date(2025, 1, 1), date(2025, 12, 31), date(2025, 12, 31))
    period = [r for r in ROWS if b.period_days(*r)]
    assert period == [("m", date(2025, m, 1)) for m in range(1, 13)]
    assert [r for r in ROWS if b.prefix_days(*r) and r[0] == "d"] == []  # the as-of day ends its month


def test_periods_within_a_month_across_months_and_years_and_as_of_days_anywhere() -> None:
    cases = [
        (date(2025, 3, 10), date(2025, 3, 20), date(2025, 3, 20)),  # inside one month
        (date(2025, 3, 1), date(2025, 3, 31), date(2025, 3, 31)),  # exactly one month
        (date(2025, 3, 2), date(2025, 4, 30), date(2025, 4, 15)),  # a whole month after a partial one
        (date(2025, 1, 31), date(2025, 3, 1), date(2025, 2, 28)),  # whole February between two days
        (date(2024, 12, 3), date(2025, 12, 2), date(2025, 12, 2)),  # a rolling year
        (date(2024, 2, 29), date(2024, 2, 29), date(2024, 2, 29)),  # one leap day
        (date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 1)),  # over new year
    ]
    for start, end, as_of in cases:
        check(start, end, as_of)


def test_random_periods() -> None:
    rng = random.Random(11)
    for _ in range(200):
        start = date(2024, 1, 1) + timedelta(days=rng.randrange(900))
        end = start + timedelta(days=rng.randrange(731))
        as_of = min(end, start + timedelta(days=rng.randrange(800)))
        check(start, end, as_of)
