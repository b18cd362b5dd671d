"""Human codes. The numbers come from database sequences; their shape is decided here."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

ATTENTION_PREFIX = "ATN"
EVENT_PREFIX = "EVT"
TICKET_PREFIX = "TCK"

CLIENT_CODE = re.compile(r"^CLI-\d{6,}$")
YEARLY_CODE = re.compile(r"^(ATN|EVT|TCK)-(\d{4})-(\d{6,})$")


def client_code(number: int) -> str:
    """CLI-000042: one sequence for all clients."""
    if number < 1:
        raise ValueError("code numbers start at 1")
    return f"CLI-{number:06d}"


def yearly_code(prefix: str, year: int, number: int) -> str:
    """ATN-2026-000123: a sequence per prefix and year; more than six digits once past 999999."""
    if prefix not in {ATTENTION_PREFIX, EVENT_PREFIX, TICKET_PREFIX}:
        raise ValueError(f"unknown code prefix {prefix}")
    if number < 1:
        raise ValueError("code numbers start at 1")
    return f"{prefix}-{year:04d}-{number:06d}"


def code_year(moment: datetime, tz: ZoneInfo) -> int:
    """The year of a code is the local (El Salvador) calendar year of the moment it was registered."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required")
    return moment.astimezone(tz).year
