"""The sync inside the service: an incremental run every FACTELEC_SYNC_INTERVAL_S, a full one when the
last full reconciliation is older than FACTELEC_RECONCILE_INTERVAL_S, and the lag gauges refreshed every
FACTELEC_METRICS_REFRESH_S. Runs belong to the worker part (``run`` or ``worker``); several instances may
run, the run lock lets one sync at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import asyncpg
from crmkit.runtime import ServiceRuntime

from factelec_sync.domain.mapping import ConfigurationError, SourceSchema
from factelec_sync.settings import Settings
from factelec_sync.source import SupplyPointSource, open_source
from factelec_sync.store import runs
from factelec_sync.sync import RunFailed, RunInProgress, SupplyPointSync, measure_lag

log = logging.getLogger(__name__)


def start_scheduler(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    # (The kit's runtime tunes the garbage collector for a worker process; a run needs that: it keeps
    # pages of rows alive while it allocates several objects per row.)
    # Cancelled (and awaited) by ServiceRuntime.stop(): a run in progress is marked interrupted and the
    # next one resumes from the watermark.
    runtime.state["factelec_tasks"] = [
        runtime.add_task(run_schedule(runtime.pool, settings), "factelec-sync-schedule"),
        runtime.add_task(refresh_lag(runtime.pool, settings), "factelec-sync-lag"),
    ]


async def full_run_due(pool: asyncpg.Pool, settings: Settings, now: datetime | None = None) -> bool:
    """A full reconciliation is due when the last one (or, before any, the first successful run) is older
    than the interval. The very first run is incremental: it reads everything anyway."""
    interval = settings.factelec_reconcile_interval_s
    if interval <= 0:
        return False
    async with pool.acquire() as conn:
        reference = await runs.last_success(conn, "full") or await runs.first_success(conn)
    if reference is None:
        return False
    return ((now or datetime.now(UTC)) - reference).total_seconds() >= interval


async def run_schedule(pool: asyncpg.Pool, settings: Settings) -> None:
    if settings.factelec_sync_interval_s <= 0:
        log.info("scheduled sync disabled (FACTELEC_SYNC_INTERVAL_S <= 0)")
        return
    runner = SupplyPointSync(settings, pool)
    while True:
        try:
            full = await full_run_due(pool, settings)
            await runner.run(full=full, trigger="schedule")
        except RunInProgress:
            log.info("scheduled sync skipped: another run is in progress")
        except RunFailed:
            pass  # logged by the run, recorded in sync_runs; the next tick tries again
        except ConfigurationError as exc:
            log.error("scheduled sync cannot run: %s", exc)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("scheduled sync could not start: %s", exc)
        await asyncio.sleep(settings.factelec_sync_interval_s)


async def refresh_lag(pool: asyncpg.Pool, settings: Settings) -> None:
    schema = SourceSchema.from_config(
        settings.factelec_source_columns, settings.factelec_source_statuses, settings.factelec_source_timezone
    )
    source: SupplyPointSource | None = None
    try:
        while True:
            try:
                if source is None:
                    source = open_source(settings)
                    await source.open()
                await measure_lag(pool, source, schema)
            except Exception as exc:
                log.info("lag metrics not refreshed: %s", exc)
                if source is not None:
                    with contextlib.suppress(Exception):
                        await source.close()
                    source = None
            await asyncio.sleep(settings.factelec_metrics_refresh_s)
    finally:
        if source is not None:
            with contextlib.suppress(Exception):
                await source.close()
