"""Which rollup rows make up a period (domain.buckets), checked day by day against the period itself."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

from reports.domain.buckets import Bucket, Buckets, cover, month_start

HORIZON = (date(2022, 1, 1), date(2029, 12, 31))  # every day a test looks at


def buckets_of(day: date) -> list[Bucket]:
    """The rollup rows a contribution on ``day`` is added to."""
    return [("d", day), ("m", month_start(day)), ("y", date(day.year, 1, 1))]


def counted(weights: Counter[Bucket], years_before: date | None = None) -> dict[date, int]:
    """How many times each day of the horizon is counted by the weighted buckets (plus, for a running sum,
    every year row before ``years_before``)."""
    out = {}
    day = HORIZON[0]
    while day <= HORIZON[1]:
        n = sum(weights.get(b, 0) for b in buckets_of(day))
        if years_before is not None and date(day.year, 1, 1) < years_before:
            n += 1
        out[day] = n
        day += timedelta(days=1)
    return out


def check(start: date, end: date, as_of: date) -> Buckets:
    b = Buckets.of(start, end, as_of)
    assert counted(b.period) == {d: int(start <= d <= end) for d in counted(Counter())}, (start, end)
    assert counted(b.prefix, b.years_before) == {d: int(d <= as_of) for d in counted(Counter())}, as_of
    return b


def test_a_calendar_year_is_one_year_row_and_a_rolling_year_a_handful() -> None:
    year = check(date(2025, 1, 1), date(2025, 12, 31), date(2025, 12, 31))
    assert year.period == Counter({("y", date(2025, 1, 1)): 1})
    assert year.prefix == Counter({("y", date(2025, 1, 1)): 1}) and year.years_before == date(2025, 1, 1)
    rolling = check(date(2025, 12, 3), date(2026, 12, 2), date(2026, 12, 2))
    # December 2025 minus its first two days, 2026 minus December, plus December's first two days.
    assert rolling.period == Counter(
        {
            ("m", date(2025, 12, 1)): 1,
            ("d", date(2025, 12, 1)): -1,
            ("d", date(2025, 12, 2)): -1,
            ("y", date(2026, 1, 1)): 1,
            ("m", date(2026, 12, 1)): -1,
            ("d", date(2026, 12, 1)): 1,
            ("d", date(2026, 12, 2)): 1,
        }
    )
    assert len(cover(date(2025, 1, 2), date(2026, 12, 30))) == 4  # two years, each minus a day


def test_periods_within_a_month_across_months_and_years_and_as_of_days_anywhere() -> None:
    cases = [
        (date(2025, 3, 10), date(2025, 3, 20), date(2025, 3, 20)),  # inside one month
        (date(2025, 3, 1), date(2025, 3, 31), date(2025, 3, 31)),  # exactly one month
        (date(2025, 3, 2), date(2025, 4, 30), date(2025, 4, 15)),  # a whole month after a partial one
        (date(2025, 1, 31), date(2025, 3, 1), date(2025, 2, 28)),  # whole February between two days
        (date(2024, 2, 29), date(2024, 2, 29), date(2024, 2, 29)),  # one leap day
        (date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 1)),  # over new year
        (date(2024, 1, 1), date(2025, 12, 31), date(2025, 6, 30)),  # two whole years, as of mid-year
    ]
    for start, end, as_of in cases:
        check(start, end, as_of)


def test_random_periods_take_few_buckets() -> None:
    rng = random.Random(11)
    for _ in range(150):
        start = date(2023, 1, 1) + timedelta(days=rng.randrange(1500))
        end = start + timedelta(days=rng.randrange(731))
        as_of = min(end, start + timedelta(days=rng.randrange(800)))
        b = check(start, end, as_of)
        assert len(b.period) <= 40 and len(b.prefix) <= 40  # two years at most: a few dozen buckets


def test_rows_are_the_arrays_the_query_takes() -> None:
    b = Buckets.of(date(2025, 12, 3), date(2026, 12, 2), date(2026, 12, 2))
    grains, days, wp, wq = b.rows()
    assert len(grains) == len(days) == len(wp) == len(wq) == len(set(b.period) | set(b.prefix))
    for grain, day, p, q in zip(grains, days, wp, wq, strict=True):
        assert (b.period.get((grain, day), 0), b.prefix.get((grain, day), 0)) == (p, q)
