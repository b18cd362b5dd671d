"""Delivery of one message: its states, when it is tried again, and which SMTP answers are final.

States: ``pending`` (recorded, not tried yet) -> ``sent`` (the SMTP server accepted it), or ``retrying``
(a transient failure; tried again at ``next_attempt_at``), or ``failed`` (a permanent failure, or too many
transient ones; never tried again). ``cancelled``: a reminder or escalation not sent because its ticket or
event closed first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Status = Literal["pending", "retrying", "sent", "failed", "cancelled"]
STATUSES: tuple[Status, ...] = ("pending", "retrying", "sent", "failed", "cancelled")
OPEN_STATUSES: tuple[Status, ...] = ("pending", "retrying")


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 30.0
    max_s: float = 3600.0
    max_attempts: int = 15

    def delay(self, attempts: int) -> float:
        """Delay after the ``attempts``-th failed attempt: base, 2 x base, 4 x base, ... up to max."""
        return min(self.max_s, self.base_s * 2 ** max(0, min(attempts - 1, 62)))


def is_permanent(code: int | None) -> bool:
    """5xx answers are final (no such user, policy refusal, ...); 4xx and no answer at all are not."""
    return code is not None and 500 <= code <= 599


@dataclass(frozen=True)
class Transition:
    status: Status
    next_attempt_at: datetime | None
    error: str | None


def after_failure(
    attempts: int, permanent: bool, error: str, now: datetime, policy: RetryPolicy
) -> Transition:
    """The state after the ``attempts``-th attempt failed."""
    if permanent:
        return Transition("failed", None, error)
    if attempts >= policy.max_attempts:
        return Transition("failed", None, f"gave up after {attempts} attempts; last: {error}")
    return Transition("retrying", now + timedelta(seconds=policy.delay(attempts)), error)
