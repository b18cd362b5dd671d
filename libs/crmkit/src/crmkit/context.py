"""Correlation of work across requests and events, carried in context variables and into every log line."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

correlation_id: ContextVar[uuid.UUID | None] = ContextVar("correlation_id", default=None)
causation_id: ContextVar[uuid.UUID | None] = ContextVar("causation_id", default=None)


def current_correlation_id() -> uuid.UUID:
    """The correlation id of the work in progress; a new one when none was given."""
    value = correlation_id.get()
    if value is None:
        value = uuid.uuid4()
        correlation_id.set(value)
    return value
