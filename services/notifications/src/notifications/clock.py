"""The time, injectable: the service asks a ``Clock``; tests give it a fake one and never sleep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, time-zone aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
