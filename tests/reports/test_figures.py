"""Figures of a report, by hand: period bounds in El Salvador time, overdue, compliance, reopened tickets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from reports.domain.figures import Item, compliance, kind_figures, summary, weekly
from reports.domain.period import MAX_DAYS, Period, PeriodError

SV = timezone(timedelta(hours=-6))
NOV = Period.of(date(2026, 11, 1), date(2026, 11, 30))


def at(day: int, hour: int = 12, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SV)


def test_the_period_runs_from_local_midnight_to_local_midnight_after_its_last_day() -> None:
    assert NOV.since == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    assert NOV.until == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    assert NOV.contains(at(30, 23, 30))  # 05:30 UTC on Dec 1st: still Nov 30 in El Salvador
    assert not NOV.contains(at(1, 0, 10, month=12))
    assert NOV.contains(at(1, 0, 0))
    assert not NOV.contains(at(31, 23, 59, month=10))


def test_a_period_must_be_in_order_and_at_most_two_years() -> None:
    with pytest.raises(PeriodError) as order:
        Period.of(date(2026, 11, 2), date(2026, 11, 1))
    assert (order.value.field, order.value.rule) == ("to", "range_order")
    with pytest.raises(PeriodError) as long:
        Period.of(date(2020, 1, 1), date(2020, 1, 1) + timedelta(days=MAX_DAYS))
    assert long.value.rule == "period_too_long"
    assert Period.of(date(2026, 1, 1), date(2026, 1, 1)).end == date(2026, 1, 1)
    with pytest.raises(PeriodError) as far:
        Period.of(date(9999, 12, 1), date(9999, 12, 31))
    assert (far.value.field, far.value.rule) == ("from", "out_of_range")


def test_opened_closed_open_at_end_overdue_and_average_days() -> None:
    items = [
        Item("ticket", at(2), at(4), due=date(2026, 11, 10)),  # opened and closed in Nov: 2 days
        Item("ticket", at(5), None, due=date(2026, 11, 20)),  # open, due before Nov 30: overdue
        Item("ticket", at(5), None, due=date(2026, 11, 30)),  # due on the as-of day: not yet overdue
        Item("ticket", at(20, month=10), at(3), due=date(2026, 10, 25)),  # opened before, closed in: 14 days
        Item("ticket", at(20, month=10), at(2, month=12), due=date(2026, 11, 1)),  # closed after: overdue
        Item("ticket", at(1, 9, month=12), None, due=date(2026, 12, 2)),  # opened after the period
    ]
    figures = kind_figures(items, NOV, NOV.as_of(date(2027, 1, 1)))
    assert figures == {
        "opened": 3,
        "closed": 2,
        "open_at_end": 3,
        "overdue": 2,
        "avg_days_to_close": round((2 + 14) / 2, 2),
    }


def test_a_running_period_counts_overdue_on_today() -> None:
    item = Item("event", at(2), None, due=date(2026, 11, 10))
    assert NOV.as_of(date(2026, 11, 10)) == date(2026, 11, 10)
    assert kind_figures([item], NOV, date(2026, 11, 10))["overdue"] == 0
    assert kind_figures([item], NOV, date(2026, 11, 11))["overdue"] == 1


def test_promise_kept_counts_closures_by_local_day_against_both_commitment_dates() -> None:
    events = [
        Item("event", at(1), at(10, 23, 30), due=date(2026, 11, 10), client_due=date(2026, 11, 12)),  # both
        Item("event", at(1), at(11, 0, 10), due=date(2026, 11, 10), client_due=date(2026, 11, 12)),  # client
        Item("event", at(1), at(13), due=date(2026, 11, 10), client_due=date(2026, 11, 12)),  # neither
        Item(
            "event", at(1), None, due=date(2026, 11, 10), client_due=date(2026, 11, 12)
        ),  # open: not counted
    ]
    assert compliance(events, NOV) == {
        "internal_kept": 1,
        "client_kept": 2,
        "internal_kept_rate": 0.3333,
        "client_kept_rate": 0.6667,
        "promise_kept_rate": 0.6667,
    }
    assert compliance([], NOV)["promise_kept_rate"] is None


def test_a_ticket_closed_then_reopened_is_open_and_reopened_and_counts_once_when_closed_again() -> None:
    reopened = Item("ticket", at(2), None, due=date(2026, 11, 5), reopens=(at(4),))
    closed_again = Item("ticket", at(2), at(9), due=date(2026, 11, 20), reopens=(at(4), at(6)))
    figures = summary([reopened, closed_again], NOV, date(2026, 12, 15))["tickets"]
    assert figures["opened"] == 2
    assert figures["closed"] == 1
    assert figures["open_at_end"] == 1
    assert figures["overdue"] == 1
    assert figures["reopened"] == 2
    assert figures["reopens"] == 3
    assert figures["avg_days_to_close"] == 7.0


def test_weekly_buckets_are_local_monday_weeks() -> None:
    period = Period.of(date(2026, 11, 2), date(2026, 11, 15))  # Monday 2 to Sunday 15
    items = [
        Item("attention", at(2, 0, 5), at(8, 23, 59)),  # opened week 1, closed Sunday of week 1
        Item("attention", at(9, 0, 1), None),  # opened week 2
        Item("ticket", at(1, 23), at(9)),  # opened before the period, closed week 2
    ]
    weeks = weekly(items, period)
    assert [(w["week_start"], w["opened"], w["closed"]) for w in weeks] == [
        ("2026-11-02", 1, 1),
        ("2026-11-09", 1, 1),
    ]
    assert weeks[1]["tickets_closed"] == 1 and weeks[1]["attentions_opened"] == 1
