"""Events the tickets service consumes, and what each one does."""

from __future__ import annotations

from crmkit.consumer import Subscriptions

subscriptions = Subscriptions()
