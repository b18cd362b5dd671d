"""Instants taken from requests: time-zone aware, and within what Python and PostgreSQL hold in UTC.

``0001-01-01T00:00:00+00:09`` is a valid aware datetime, but in UTC it falls before year 1: the driver
cannot encode it and the request failed with a 500. ``Instant`` refuses such values as a 422 naming the
field; ``check_instant`` does the same for values parsed by hand (cursors).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def check_instant(value: datetime) -> datetime:
    if not EARLIEST <= value <= LATEST:
        raise ValueError("must lie between the years 1 and 9999 in UTC")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(check_instant)]
