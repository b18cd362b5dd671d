"""The sender loop: sends the recorded messages that are due, over one reused SMTP connection.

Each round claims up to ``MAIL_BATCH_SIZE`` due messages (``FOR UPDATE SKIP LOCKED``, so several
instances share the work without sending a message twice), sends them one after the other on the open
connection, and writes every outcome in the same transaction:

- accepted -> ``sent`` (with the server's answer);
- 4xx -> ``retrying``, ``next_attempt_at`` = now + backoff (base x 2^(attempts-1), capped); after
  ``MAIL_MAX_ATTEMPTS`` -> ``failed``;
- 5xx or an unusable address -> ``failed`` at once, with the server's answer; never tried again;
- connection lost (refused, timeout, disconnect): the message being sent -> ``retrying``; the rest of the
  batch is left untouched, and the loop pauses (0.5 s, 1 s, 2 s ... up to ``SMTP_RECONNECT_BACKOFF_MAX_S``)
  before it connects again. An outage costs a few attempts to a few messages, not one to each.

If the database goes away during a round, the outcomes of what was already sent stay in memory and are
recorded first when it is back, before anything is claimed again: a database outage sends nothing twice.

The crash window: the server accepted a message, and the process dies before the batch's transaction
commits. The rows go back to due and those messages are sent again: at least once, never lost (marking
before sending would lose messages instead). No SMTP client can close that window: the server's "250" and
our commit are two systems. What the sender does is know it: each round is journalled (committed on a second
connection) before the server sees a message, and the journal is deleted with the outcomes. A message
claimed again with a journal row left is resent with ``interrupted_attempts`` + 1 in the delivery log: the
copy may be a duplicate, byte-for-byte the same message (same ``Message-ID``, which mail clients use to
fold duplicates). A duplicate without that mark is a defect; the system tests count on it.

The loop wakes on ``NOTIFY notifications_mail`` (sent by the transaction that records a message), polls
every ``MAIL_POLL_INTERVAL_S`` as a fallback, keeps the SMTP connection while there is work and for
``SMTP_IDLE_CLOSE_S`` after, then closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from email.utils import parseaddr

import asyncpg
from crmkit.consumer import INFRASTRUCTURE_ERRORS
from crmkit.db import connect

from notifications.clock import Clock
from notifications.domain.delivery import RetryPolicy, after_failure
from notifications.mailer import Mailer
from notifications.settings import Settings
from notifications.store import messages as store

log = logging.getLogger(__name__)


@dataclass
class RoundOutcome:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    connection_lost: bool = False


@dataclass
class Round:
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    results: list[store.Result] = field(default_factory=list)


class MailSender:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, mailer: Mailer, clock: Clock) -> None:
        self.settings = settings
        self.pool = pool
        self.mailer = mailer
        self.clock = clock
        self.envelope_from = parseaddr(settings.mail_from)[1] or settings.mail_from
        self.policy = RetryPolicy(
            base_s=settings.mail_retry_backoff_s,
            max_s=settings.mail_retry_backoff_max_s,
            max_attempts=settings.mail_max_attempts,
        )
        self._wake = asyncio.Event()
        self._stopping = False
        self._round: asyncio.Task[RoundOutcome] | None = None
        self._connection_failures = 0
        self.sent_total = 0
        self._unrecorded: Round | None = None

    def wake(self) -> None:
        self._wake.set()

    async def send_due(self) -> RoundOutcome:
        """One round: claim due messages, send them, record the outcomes (one transaction)."""
        if self._unrecorded is not None:
            async with self.pool.acquire() as conn, conn.transaction():
                await store.record_round(conn, self._unrecorded.id, self._unrecorded.results)
            log.info(
                "recorded %d outcomes of a round whose transaction was lost", len(self._unrecorded.results)
            )
            self._unrecorded = None
        outcome = RoundOutcome()
        this_round = Round()
        try:
            await self._send_round(outcome, this_round)
        except INFRASTRUCTURE_ERRORS:
            # The server has these messages; the database lost the round's transaction (it went away).
            # Recording the outcomes as soon as it is back, before claiming again, keeps a database outage
            # from sending them twice. Only the death of this process in that window still can.
            self._unrecorded = this_round
            raise
        self.sent_total += outcome.sent
        return outcome

    async def _send_round(self, outcome: RoundOutcome, this_round: Round) -> None:
        results = this_round.results
        async with self.pool.acquire() as conn, conn.transaction():
            if cancelled := await store.cancel_for_closed(conn, self.clock.now()):
                log.info("%d waiting messages cancelled: their ticket or event closed", cancelled)
            claimed = await store.claim_due(conn, self.clock.now(), self.settings.mail_batch_size)
            outcome.claimed = len(claimed)
            if not claimed:
                return
            ids = [m.id for m in claimed]
            resent = await store.interrupted(conn, ids)
            if resent:
                log.warning(
                    "%d messages of a round that died after the server may have taken them are sent again "
                    "(possible duplicates, same Message-ID): %s",
                    len(resent),
                    sorted(str(i) for i in resent),
                )
            async with self.pool.acquire() as journal:
                await store.journal_round(journal, this_round.id, ids, self.clock.now())
            for message in claimed:
                result = await self.mailer.send(self.envelope_from, message.recipient_email, message.mime)
                now = self.clock.now()
                attempts = message.attempts + 1
                again = message.id in resent
                if result.accepted:
                    results.append(
                        store.Result(
                            message.id,
                            "sent",
                            attempts,
                            now,
                            response=result.response,
                            after_interruption=again,
                        )
                    )
                    outcome.sent += 1
                    continue
                transition = after_failure(attempts, result.permanent, result.response, now, self.policy)
                results.append(
                    store.Result(
                        message.id,
                        transition.status,
                        attempts,
                        now,
                        next_attempt_at=transition.next_attempt_at,
                        error=transition.error,
                        after_interruption=again,
                    )
                )
                if transition.status == "failed":
                    outcome.failed += 1
                    log.warning("message %s failed for good: %s", message.id, transition.error)
                else:
                    outcome.retrying += 1
                    log.info("message %s will be retried: %s", message.id, result.response)
                if result.connection_lost:
                    outcome.connection_lost = True
                    break  # the rest of the batch stays due; the loop pauses before reconnecting
            await store.record_round(conn, this_round.id, results)

    async def run(self) -> None:
        listener: asyncpg.Connection | None = None
        try:
            while not self._stopping:
                if listener is None or listener.is_closed():
                    listener = await self._listen()
                self._wake.clear()  # a NOTIFY from now on wakes the wait after this round
                try:
                    # A round runs as its own task: a cancellation of the loop lets it finish and commit.
                    self._round = asyncio.ensure_future(self.send_due())
                    outcome = await asyncio.shield(self._round)
                except INFRASTRUCTURE_ERRORS as exc:
                    log.warning("sender: database unavailable (%s); retrying", type(exc).__name__)
                    await self._pause(1.0)
                    continue
                except Exception:
                    log.exception("sender round failed")
                    await self._pause(1.0)
                    continue
                if outcome.connection_lost:
                    self._connection_failures += 1
                    delay = min(
                        self.settings.smtp_reconnect_backoff_max_s,
                        0.5 * 2 ** min(self._connection_failures - 1, 20),
                    )
                    log.warning("SMTP server unavailable; next try in %.1fs", delay)
                    await self._pause(delay)
                    continue
                if outcome.sent or outcome.claimed:
                    self._connection_failures = 0
                if outcome.claimed >= self.settings.mail_batch_size:
                    continue  # more is waiting: keep going on the same connection
                await self._idle()
        except asyncio.CancelledError:
            if self._round is not None and not self._round.done():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(self._round), 15)
            raise
        finally:
            await self.mailer.close()
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            conn = await connect(self.settings.database_url)
            await conn.add_listener(store.NOTIFY_CHANNEL, lambda *_: self._wake.set())
            return conn
        except INFRASTRUCTURE_ERRORS as exc:
            log.warning("sender: cannot LISTEN (%s); polling", type(exc).__name__)
            return None

    async def _pause(self, seconds: float) -> None:
        """Sleep; a NOTIFY does not cut a pause short (the pause is for an unavailable server)."""
        await asyncio.sleep(seconds)

    async def _idle(self) -> None:
        """Wait for a NOTIFY, the next retry, or the poll interval; close an idle SMTP connection."""
        wait = self.settings.mail_poll_interval_s
        try:
            async with self.pool.acquire() as conn:
                due = await store.next_due_at(conn)
            if due is not None:
                wait = max(0.0, min(wait, (due - self.clock.now()).total_seconds()))
        except INFRASTRUCTURE_ERRORS:
            pass
        if wait <= 0:
            return
        if self.mailer.connected and self.settings.smtp_idle_close_s < wait:
            if await self._wait_wake(self.settings.smtp_idle_close_s):
                return
            await self.mailer.close()
            wait -= self.settings.smtp_idle_close_s
        await self._wait_wake(wait)

    async def _wait_wake(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
            return True
        return False
