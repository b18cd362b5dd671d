"""Reminders, escalations and event alerts: a tick plans what is due and records it.

``tick()`` loads this service's projections (staff, open tickets, open events with open tickets), asks
``domain.planning.plan`` what is due at ``clock.now()``, renders each planned message that was not recorded
before (its unique key) and records it in the email outbox, in one transaction. The sender loop delivers
it like any other message. So a reminder or escalation is recorded once per rule and tier, whatever the
number of ticks, restarts or instances (an advisory lock keeps two instances from ticking at once), and
nothing is planned for a closed ticket or event.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import asyncpg
from crmkit.consumer import INFRASTRUCTURE_ERRORS

from notifications.clock import Clock
from notifications.compose import Composer
from notifications.domain.dates import local_now
from notifications.domain.planning import Planned, plan
from notifications.domain.rules import Rules
from notifications.store import messages as message_store
from notifications.store import projections

log = logging.getLogger(__name__)
TICK_LOCK = 0x6E6F7469  # "noti": one tick at a time across instances


@dataclass
class TickOutcome:
    planned: int = 0
    recorded: list[Planned] = field(default_factory=list)
    skipped_locked: bool = False


class Scheduler:
    def __init__(
        self, pool: asyncpg.Pool, rules: Rules, composer: Composer, clock: Clock, tz: ZoneInfo
    ) -> None:
        self.pool = pool
        self.rules = rules
        self.composer = composer
        self.clock = clock
        self.tz = tz

    async def tick(self) -> TickOutcome:
        now = self.clock.now()
        outcome = TickOutcome()
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", TICK_LOCK):
                outcome.skipped_locked = True
                return outcome
            staff = await projections.load_staff(conn)
            tickets = await projections.load_open_tickets(conn)
            events = await projections.load_open_events(conn)
            opened_days = {event.event_id: local_now(opened, self.tz).date() for event, opened in events}
            open_events = [event for event, _ in events]
            planned = plan(now, self.rules, staff, tickets, open_events, opened_days, self.tz)
            outcome.planned = len(planned)
            known = await message_store.existing_keys(conn, [p.key for p in planned])
            fresh = [p for p in planned if p.key not in known]
            if fresh:
                await message_store.insert(conn, [self.composer.planned(p, now) for p in fresh])
                outcome.recorded = fresh
                log.info("recorded %d reminder/escalation/alert message(s)", len(fresh))
        return outcome

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await self.tick()
            except INFRASTRUCTURE_ERRORS as exc:
                log.warning("scheduler: database unavailable (%s)", type(exc).__name__)
            except Exception:
                log.exception("scheduler tick failed")
            await asyncio.sleep(interval_s)
