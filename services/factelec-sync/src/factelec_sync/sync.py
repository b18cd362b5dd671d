"""The use case: one sync run, incremental, or full (incremental then reconciliation).

Durability without the outbox (docs/factelec-sync.md explains the choice): each page of source rows is
published straight to the topic, and the watermark moves past a page only after the broker acknowledged
(acks=all) every record of that page and of every page before it. So:

- a process killed at any point loses nothing: the committed watermark is at or behind every row whose
  event might not be on the topic, and the next run reads again from there;
- what it repeats is harmless: a repeated ``SupplyPointUpserted`` carries the same state and
  ``source_updated_at``, and consumers upsert by NIC keeping the newest ``source_updated_at``;
- the table of what was published per NIC is written *before* a page is published, so it never misses a
  supply point some replica may hold, and reconciliation can always retire it.

Pages are pipelined: while page n waits for its acknowledgements, page n+1 is read (the source query runs
while this process encodes), recorded and handed to the producer. At most
``factelec_max_inflight_batches`` pages are unacknowledged; watermarks commit strictly in page order.
Only one run at a time: a PostgreSQL advisory lock in the sync's database (scheduled runs in the service
and ``sync`` on the command line exclude each other, on any number of hosts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import asyncpg
from crmkit.db import connect

from factelec_sync import metrics
from factelec_sync.domain.events import (
    RETIRED_REASON,
    EventEncoder,
    OutgoingRecord,
    Prepared,
    new_event_ids,
    prepare,
)
from factelec_sync.domain.mapping import (
    ConfigurationError,
    Rejected,
    SourceSchema,
    SupplyPoint,
    jsonable,
    last_per_nic,
    map_row,
)
from factelec_sync.domain.reconcile import check_retirements, to_republish
from factelec_sync.domain.runs import RunCounters, RunKind, RunStatus, RunSummary
from factelec_sync.domain.watermark import END_OF_TIME, Watermark, advance, lag_seconds
from factelec_sync.publisher import Publisher
from factelec_sync.settings import Settings
from factelec_sync.source import SupplyPointSource, open_source
from factelec_sync.source.base import SourceRow
from factelec_sync.store import known, quarantine, runs
from factelec_sync.store import watermark as watermark_store

log = logging.getLogger(__name__)


class RunInProgress(Exception):
    """Another sync run holds the lock (a scheduled run, or `sync` started elsewhere)."""


class RunFailed(Exception):
    """The run stopped on an error; ``summary`` says what it had done (its committed part stays)."""

    def __init__(self, summary: RunSummary, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.summary = summary
        self.cause = cause


class Progress(Protocol):
    """What the command line shows while a run goes (the service passes none)."""

    def phase(self, name: str, total: int | None) -> None: ...

    def advance(self, rows: int) -> None: ...

    def close(self) -> None: ...


@dataclass
class _Run:
    run_id: int
    kind: RunKind
    trigger: str
    started_at: datetime
    encoder: EventEncoder
    watermark_from: Watermark
    watermark: Watermark
    open_quarantine: set[str]  # source keys quarantined and not resolved
    rejected_in_scan: set[str] = field(default_factory=set)  # source keys found bad by the full scan
    counters: RunCounters = field(default_factory=RunCounters)
    progress: Progress | None = None


@dataclass
class _Staged:
    """A page mapped and encoded; its bookkeeping write is under way."""

    records: list[OutgoingRecord]
    write: asyncio.Future[None]
    counters: RunCounters
    phase: str
    watermark: Watermark | None


@dataclass
class _Pending:
    """A page handed to the producer and not yet settled."""

    acks: asyncio.Future[Any]
    counters: RunCounters
    phase: str
    watermark: Watermark | None = None  # incremental pages move the watermark
    after_ack: Callable[[], Awaitable[None]] | None = None


def _split(rows: Sequence[SourceRow], schema: SourceSchema) -> tuple[list[SupplyPoint], list[Rejected]]:
    points: list[SupplyPoint] = []
    rejected: list[Rejected] = []
    for row in rows:
        mapped = map_row(row, schema)
        if isinstance(mapped, SupplyPoint):
            points.append(mapped)
        else:
            rejected.append(mapped)
    points, dropped = last_per_nic(points)
    if dropped:
        kept = {p.nic: p.key for p in points}
        rows_by_key = {str(row[schema.columns.key]): row for row in rows}
        for d in dropped:
            raw = rows_by_key.get(str(d.key), {})
            rejected.append(
                Rejected(
                    key=str(d.key),
                    nic=d.nic,
                    reasons=(f"NIC {d.nic} is also used by source row {kept[d.nic]!r}, which was published",),
                    raw={str(k): jsonable(v) for k, v in raw.items()},
                    source_updated_at=d.source_updated_at,
                )
            )
    return points, rejected


async def _next(pages: AsyncIterator[Sequence[SourceRow]]) -> Sequence[SourceRow] | None:
    try:
        return await anext(pages)
    except StopAsyncIteration:
        return None


def _forget(acks: asyncio.Future[Any]) -> None:
    """A page abandoned by a failed run: its outcome no longer matters (the watermark stayed before it);
    retrieve it when it comes so that asyncio does not log it as never retrieved."""
    acks.add_done_callback(lambda f: f.cancelled() or f.exception())


class SupplyPointSync:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        *,
        source_factory: Callable[[Settings], SupplyPointSource] = open_source,
        publisher_factory: Callable[[Settings], Publisher] = Publisher,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.schema = SourceSchema.from_config(
            settings.factelec_source_columns,
            settings.factelec_source_statuses,
            settings.factelec_source_timezone,
        )
        self.source_factory = source_factory
        self.publisher_factory = publisher_factory

    # -- a run ----------------------------------------------------------------------------------------

    async def run(
        self,
        *,
        full: bool = False,
        trigger: str = "cli",
        progress: Progress | None = None,
        allow_mass_retire: bool = False,
        from_start: bool = False,
    ) -> RunSummary:
        """One run. Raises RunInProgress when another holds the lock, RunFailed when it fails."""
        lock_conn = await connect(self.settings.database_url)
        try:
            if not await runs.try_lock(lock_conn):
                raise RunInProgress("another factelec sync run is in progress")
            metrics.RUN_IN_PROGRESS.set(1)
            try:
                return await self._locked_run(full, trigger, progress, allow_mass_retire, from_start)
            finally:
                metrics.RUN_IN_PROGRESS.set(0)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(lock_conn.close(), 5)

    async def _locked_run(
        self,
        full: bool,
        trigger: str,
        progress: Progress | None,
        allow_mass_retire: bool,
        from_start: bool,
    ) -> RunSummary:
        kind: RunKind = "full" if full else "incremental"
        correlation_id = uuid.uuid4()
        async with self.pool.acquire() as conn:
            stale = await runs.interrupt_stale(conn)
            if stale:
                log.warning("%d earlier run(s) had died mid-run; resuming from the watermark", stale)
            if from_start:
                await watermark_store.reset(conn)
            start_wm = await watermark_store.get(conn) or Watermark.initial()
            open_q = await quarantine.open_keys(conn)
            run_id, started_at = await runs.start(conn, kind, trigger, correlation_id, start_wm.as_json())
        run = _Run(
            run_id=run_id,
            kind=kind,
            trigger=trigger,
            started_at=started_at,
            encoder=EventEncoder(self.settings.service_name, correlation_id),
            watermark_from=start_wm,
            watermark=start_wm,
            open_quarantine=open_q,
            progress=progress,
        )
        log.info("sync run %d (%s, %s) starts after %s", run_id, kind, trigger, start_wm.as_json())
        status: RunStatus = "failed"
        error: BaseException | None = None
        source = self.source_factory(self.settings)
        publisher = self.publisher_factory(self.settings)
        try:
            await source.open()
            await publisher.start()
            await self._incremental(run, source, publisher)
            if full:
                await self._reconcile(run, source, publisher, allow_mass_retire)
            status = "succeeded"
        except asyncio.CancelledError as exc:
            status, error = "interrupted", exc
            raise
        except Exception as exc:
            error = exc
            log.error("sync run %d failed: %s: %s", run_id, type(exc).__name__, exc)
        finally:
            if progress is not None:
                progress.close()
            summary = await self._finish(run, status, error)
            await publisher.stop()
            with contextlib.suppress(Exception):
                await source.close()
        if error is not None:
            raise RunFailed(summary, error) from error
        return summary

    async def _finish(self, run: _Run, status: RunStatus, error: BaseException | None) -> RunSummary:
        message = None if error is None else f"{type(error).__name__}: {error}"[:4000]
        if isinstance(error, asyncio.CancelledError):
            message = "stopped with the service (it resumes from the watermark)"
        watermark_to = None if run.watermark.is_initial else run.watermark.as_json()
        finished_at: datetime | None = None
        try:
            async with self.pool.acquire() as conn:
                finished_at = await runs.finish(conn, run.run_id, status, run.counters, watermark_to, message)
        except Exception as exc:  # the database is gone: the next run marks this one interrupted
            log.warning("could not record the end of run %d: %s", run.run_id, exc)
        finished_at = finished_at or datetime.now(UTC)
        summary = RunSummary(
            run_id=run.run_id,
            kind=run.kind,
            trigger=run.trigger,
            status=status,
            started_at=run.started_at,
            finished_at=finished_at,
            counters=run.counters,
            watermark_from=None if run.watermark_from.is_initial else run.watermark_from.as_json(),
            watermark_to=watermark_to,
            error=message,
        )
        metrics.RUNS.labels(run.kind, status).inc()
        if summary.duration_s is not None:
            metrics.RUN_DURATION.labels(run.kind).set(summary.duration_s)
        if status == "succeeded":
            metrics.LAST_SUCCESS.labels(run.kind).set(finished_at.timestamp())
            if run.kind == "full":
                metrics.LAST_SUCCESS.labels("incremental").set(finished_at.timestamp())
        if not run.watermark.is_initial:
            metrics.WATERMARK_TS.set(run.watermark.ts.timestamp())
            metrics.WATERMARK_AGE.set(lag_seconds(run.watermark, datetime.now(UTC)) or 0.0)
        log.info("sync run %d %s: %s", run.run_id, status, summary.as_dict())
        return summary

    # -- incremental ----------------------------------------------------------------------------------

    async def _incremental(self, run: _Run, source: SupplyPointSource, publisher: Publisher) -> None:
        until = await source.now() - timedelta(seconds=self.settings.factelec_source_settle_s)
        if run.progress is not None:
            run.progress.phase("changes", await source.count_after(run.watermark, until))
        await self._scan(run, source, publisher, run.watermark, until, reconcile=False)

    # -- the scan loop, shared by both passes ---------------------------------------------------------

    def _pages(
        self, source: SupplyPointSource, after: Watermark, until: datetime
    ) -> AsyncIterator[Sequence[SourceRow]]:
        if self.settings.factelec_source_stream:
            return source.scan(after, until, self.settings.factelec_batch_size)
        return self._keyset_pages(source, after, until)

    async def _keyset_pages(
        self, source: SupplyPointSource, after: Watermark, until: datetime
    ) -> AsyncIterator[Sequence[SourceRow]]:
        """One query per page: WHERE (ts, key) > (last ts, last key) ... LIMIT batch."""
        batch = self.settings.factelec_batch_size
        c = self.schema.columns
        while True:
            rows = await source.fetch_after(after, until, batch)
            if not rows:
                return
            yield rows
            if len(rows) < batch:  # a short page is the last one
                return
            ts = rows[-1][c.source_updated_at]
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=self.schema.timezone).astimezone(UTC)
            after = Watermark(ts, rows[-1][c.key])

    async def _scan(
        self,
        run: _Run,
        source: SupplyPointSource,
        publisher: Publisher,
        after: Watermark,
        until: datetime,
        *,
        reconcile: bool,
    ) -> None:
        """Read, stage, publish and settle pages, overlapped:

        - the source reads page n+1 (PostgreSQL sorts and sends, this process decodes) while page n is
          processed;
        - page n's bookkeeping (what is published per NIC, quarantine) is written by PostgreSQL while
          this process maps and encodes page n+1; page n is handed to the producer only once its
          bookkeeping is committed (the writes are serialized, in page order);
        - up to ``factelec_max_inflight_batches`` pages wait for the broker; they settle in order.
        """
        max_inflight = self.settings.factelec_max_inflight_batches
        c = self.schema.columns
        zone = self.schema.timezone
        inflight: deque[_Pending] = deque()
        staged: _Staged | None = None
        pages = self._pages(source, after, until)
        upcoming: asyncio.Future[Sequence[SourceRow] | None] | None = asyncio.ensure_future(_next(pages))
        first = True
        try:
            while upcoming is not None:
                rows = await upcoming
                upcoming = None
                if not rows:
                    break
                upcoming = asyncio.ensure_future(_next(pages))
                if first:
                    missing = self.schema.missing_columns(list(rows[0].keys()))
                    if missing:
                        raise ConfigurationError(
                            f"the source query returns no column {missing} (FACTELEC_SOURCE_COLUMNS)"
                        )
                    first = False
                page_wm = advance(after, [(r[c.source_updated_at], r[c.key]) for r in rows], zone)
                previous_write = staged.write if staged is not None else None
                if reconcile:
                    nxt = await self._stage_reconcile(run, rows, previous_write)
                else:
                    nxt = self._stage_incremental(run, rows, page_wm, previous_write)
                if staged is not None:
                    inflight.append(await self._publish(publisher, staged))
                staged = nxt
                after = page_wm
                while inflight and (len(inflight) >= max_inflight or inflight[0].acks.done()):
                    await self._settle(run, inflight.popleft())
            if staged is not None:
                inflight.append(await self._publish(publisher, staged))
                staged = None
            while inflight:
                await self._settle(run, inflight.popleft())
        finally:
            if upcoming is not None and not upcoming.done():
                upcoming.cancel()
            if upcoming is not None:
                with contextlib.suppress(BaseException):
                    await upcoming
            with contextlib.suppress(Exception):
                await pages.aclose()  # type: ignore[attr-defined]
            if staged is not None:
                _forget(staged.write)
            for pending in inflight:
                _forget(pending.acks)

    def _stage_incremental(
        self,
        run: _Run,
        rows: Sequence[SourceRow],
        page_wm: Watermark,
        previous_write: asyncio.Future[None] | None,
    ) -> _Staged:
        points, rejected = _split(rows, self.schema)
        encode = run.encoder.upserted_point
        records: list[OutgoingRecord] = []
        remembered: list[known.KnownRow] = []
        for point, event_id in zip(points, new_event_ids(len(points)), strict=True):
            record, digest = encode(point, event_id)
            records.append(record)
            remembered.append((point.nic, digest, point.connection_status, point.source_updated_at))
        # PostgreSQL records this page while this process maps and encodes the next one.
        write = asyncio.ensure_future(
            self._record(run, remembered, points, rejected, previous=previous_write)
        )
        counters = RunCounters(read=len(rows), published=len(records), quarantined=len(rejected))
        return _Staged(records, write, counters, "incremental", page_wm)

    async def _stage_reconcile(
        self, run: _Run, rows: Sequence[SourceRow], previous_write: asyncio.Future[None] | None
    ) -> _Staged:
        points, rejected = _split(rows, self.schema)
        run.rejected_in_scan.update(r.key for r in rejected)
        prepared = [prepare(p) for p in points]
        if previous_write is not None:
            await previous_write  # a NIC met again in this page must be compared with what was just written
        async with self.pool.acquire() as conn:
            last = await known.lookup(conn, [p.nic for p in prepared])
        changed = to_republish(prepared, last)
        seen = [p.nic for p in points] + [r.nic for r in rejected if r.nic]
        write = asyncio.ensure_future(
            self._record(run, [known.known_row(p) for p in changed], points, rejected, seen)
        )
        records = self._encode(run, changed)
        counters = RunCounters(read=len(rows), published=len(records), quarantined=len(rejected))
        return _Staged(records, write, counters, "reconcile", None)

    @staticmethod
    async def _publish(publisher: Publisher, staged: _Staged) -> _Pending:
        """Hand a staged page to the producer once its bookkeeping is committed."""
        await staged.write
        acks = await publisher.publish(staged.records)
        return _Pending(acks, staged.counters, staged.phase, watermark=staged.watermark)

    async def _record(
        self,
        run: _Run,
        remembered: Sequence[known.KnownRow],
        valid: Sequence[SupplyPoint],
        rejected: Sequence[Rejected],
        seen: Sequence[str] = (),
        previous: asyncio.Future[None] | None = None,
    ) -> None:
        if previous is not None:
            await previous  # one bookkeeping write at a time, in page order
        async with self.pool.acquire() as conn, conn.transaction():
            if seen:
                await known.mark_seen(conn, seen)
            await known.remember(conn, remembered)
            if rejected:
                await quarantine.record(conn, run.run_id, rejected)
                run.open_quarantine.update(r.key for r in rejected)
            if run.open_quarantine and valid:
                fixed = [k for k in (str(p.key) for p in valid) if k in run.open_quarantine]
                if fixed:
                    await quarantine.resolve(conn, fixed)
                    run.open_quarantine.difference_update(fixed)

    @staticmethod
    def _encode(run: _Run, prepared: Sequence[Prepared]) -> list[OutgoingRecord]:
        upserted = run.encoder.upserted
        return [upserted(p, i) for p, i in zip(prepared, new_event_ids(len(prepared)), strict=True)]

    async def _settle(self, run: _Run, pending: _Pending) -> None:
        """Wait for a page's acknowledgements, then commit what they make true."""
        await pending.acks  # a failed send raises here: the watermark stays before this page
        if pending.after_ack is not None:
            await pending.after_ack()
        run.counters.add(pending.counters)
        async with self.pool.acquire() as conn, conn.transaction():
            if pending.watermark is not None:
                await watermark_store.save(conn, pending.watermark, run.run_id)
                run.watermark = pending.watermark
            await runs.record_progress(
                conn,
                run.run_id,
                run.counters,
                None if run.watermark.is_initial else run.watermark.as_json(),
            )
        c = pending.counters
        if c.read:
            metrics.ROWS_READ.labels(pending.phase).inc(c.read)
        if c.published:
            metrics.ROWS_PUBLISHED.labels("upserted").inc(c.published)
        if c.retired:
            metrics.ROWS_PUBLISHED.labels("retired").inc(c.retired)
        if c.quarantined:
            metrics.ROWS_QUARANTINED.inc(c.quarantined)
        if run.progress is not None and (c.read or c.retired):
            run.progress.advance(c.read or c.retired)

    # -- full reconciliation --------------------------------------------------------------------------

    async def _reconcile(
        self, run: _Run, source: SupplyPointSource, publisher: Publisher, allow_mass_retire: bool
    ) -> None:
        async with self.pool.acquire() as conn:
            await known.clear_seen(conn)
        beginning = Watermark.initial()
        if run.progress is not None:
            run.progress.phase("reconcile", await source.count_after(beginning, END_OF_TIME))
        await self._scan(run, source, publisher, beginning, END_OF_TIME, reconcile=True)

        async with self.pool.acquire() as conn:
            # Quarantined rows the whole scan did not find bad again were deleted (or fixed) meanwhile.
            cleared = await quarantine.resolve_all_but(conn, sorted(run.rejected_in_scan))
            if cleared:
                log.info("%d quarantined source rows are gone from the source", cleared)
        async with self.pool.acquire() as conn:
            gone = await known.count_not_seen(conn)
            active = await known.count_active(conn)
            check_retirements(gone, active, self.settings.factelec_max_retire_fraction, allow_mass_retire)
            nics = await known.not_seen(conn) if gone else []
        if run.progress is not None:
            run.progress.phase("retire", len(nics))
        batch = self.settings.factelec_batch_size
        inflight: deque[_Pending] = deque()
        try:
            for start in range(0, len(nics), batch):
                chunk = nics[start : start + batch]
                detected_at = datetime.now(UTC)
                ids = new_event_ids(len(chunk))
                records = [
                    run.encoder.retired(nic, RETIRED_REASON, detected_at, event_id)
                    for nic, event_id in zip(chunk, ids, strict=True)
                ]
                acks = await publisher.publish(records)
                inflight.append(
                    _Pending(acks, RunCounters(retired=len(chunk)), "retire", after_ack=self._retirer(chunk))
                )
                while len(inflight) >= self.settings.factelec_max_inflight_batches:
                    await self._settle(run, inflight.popleft())
            while inflight:
                await self._settle(run, inflight.popleft())
        finally:
            for pending in inflight:
                _forget(pending.acks)
        async with self.pool.acquire() as conn:
            await known.clear_seen(conn)

    def _retirer(self, nics: list[str]) -> Callable[[], Awaitable[None]]:
        async def mark() -> None:
            async with self.pool.acquire() as conn:
                await known.mark_retired(conn, nics)

        return mark


# -- lag, for the metrics and the status endpoint ---------------------------------------------------------


@dataclass
class Lag:
    watermark: Watermark | None
    watermark_age_s: float | None
    pending_rows: int | None
    oldest_pending_age_s: float | None
    open_quarantine: int
    measured_at: datetime


async def measure_lag(pool: asyncpg.Pool, source: SupplyPointSource, schema: SourceSchema) -> Lag:
    """How far behind the source the committed watermark is; sets the lag gauges."""
    async with pool.acquire() as conn:
        wm = await watermark_store.get(conn)
        open_q = await quarantine.open_count(conn)
    now = datetime.now(UTC)
    after = wm or Watermark.initial()
    pending = await source.count_after(after, END_OF_TIME)
    first = await source.fetch_after(after, END_OF_TIME, 1)
    oldest: float | None = 0.0
    if first:
        ts = first[0][schema.columns.source_updated_at]
        if isinstance(ts, datetime):
            ts = ts if ts.tzinfo else ts.replace(tzinfo=schema.timezone)
            oldest = max(0.0, (now - ts).total_seconds())
        else:
            oldest = None
    age = lag_seconds(wm, now)
    if wm is not None and not wm.is_initial:
        metrics.WATERMARK_TS.set(wm.ts.timestamp())
    if age is not None:
        metrics.WATERMARK_AGE.set(age)
    if pending is not None:
        metrics.PENDING_ROWS.set(pending)
    if oldest is not None:
        metrics.OLDEST_PENDING_AGE.set(oldest)
    metrics.QUARANTINE_OPEN.set(open_q)
    return Lag(wm, age, pending, oldest, open_q, now)
