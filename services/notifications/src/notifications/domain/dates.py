"""Days and dates as people in El Salvador count them.

"N days before the due date" and "7 days overdue" are counted in local calendar days of
America/El_Salvador (UTC-6 all year), never in 24-hour periods from a UTC instant.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

EL_SALVADOR = ZoneInfo("America/El_Salvador")

_WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
_MONTHS = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


def local_now(now: datetime, tz: ZoneInfo = EL_SALVADOR) -> datetime:
    if now.tzinfo is None:
        raise ValueError("a time without a time zone cannot be placed in a local day")
    return now.astimezone(tz)


def local_today(now: datetime, tz: ZoneInfo = EL_SALVADOR) -> date:
    """The local calendar day of an instant."""
    return local_now(now, tz).date()


def local_time_of_day(now: datetime, tz: ZoneInfo = EL_SALVADOR) -> time:
    return local_now(now, tz).time()


def days_until(day: date, today: date) -> int:
    """Calendar days from today to ``day`` (0 on the day itself, negative once it has passed)."""
    return (day - today).days


def days_overdue(due: date, today: date) -> int:
    """Calendar days past the due date: 0 on the due date (still on time), 1 the day after, ..."""
    return max(0, (today - due).days)


def format_date(day: date) -> str:
    """``lunes 9 de noviembre de 2026``: the long Spanish form used in the emails."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} de {_MONTHS[day.month - 1]} de {day.year}"


def format_date_short(day: date) -> str:
    """``09/11/2026``: day/month/year, as dates are written in El Salvador."""
    return day.strftime("%d/%m/%Y")


def format_datetime(moment: datetime, tz: ZoneInfo = EL_SALVADOR) -> str:
    """``09/11/2026 14:05`` in local time."""
    return local_now(moment, tz).strftime("%d/%m/%Y %H:%M")
