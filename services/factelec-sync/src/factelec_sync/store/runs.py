"""Runs: one row each, and the advisory lock that lets only one run at a time touch the watermark."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from crmkit.db import Connection

from factelec_sync.domain.runs import RunCounters, RunKind, RunStatus, RunSummary

# Advisory locks are per database and this database is the sync's own: one constant is enough.
RUN_LOCK_KEY = 0x0FAC7E1EC


async def try_lock(conn: Connection) -> bool:
    """Take the run lock on this session (released when the session ends, also by a crash)."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", RUN_LOCK_KEY))


async def unlock(conn: Connection) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", RUN_LOCK_KEY)


async def interrupt_stale(conn: Connection) -> int:
    """Runs still marked running while we hold the lock died with their process."""
    result = await conn.execute(
        """UPDATE sync_runs SET status = 'interrupted', finished_at = now(),
               error = 'the process stopped before the run ended (it resumes from the watermark)'
           WHERE status = 'running'"""
    )
    return int(result.split()[-1])


async def start(
    conn: Connection,
    kind: RunKind,
    trigger: str,
    correlation_id: uuid.UUID,
    watermark_from: dict[str, Any] | None,
) -> tuple[int, datetime]:
    row = await conn.fetchrow(
        """INSERT INTO sync_runs (kind, trigger, correlation_id, watermark_from, watermark_to)
           VALUES ($1, $2, $3, $4, $4) RETURNING run_id, started_at""",
        kind,
        trigger,
        correlation_id,
        watermark_from,
    )
    assert row is not None
    return int(row["run_id"]), row["started_at"]


async def record_progress(
    conn: Connection, run_id: int, counters: RunCounters, watermark_to: dict[str, Any] | None
) -> None:
    await conn.execute(
        """UPDATE sync_runs SET rows_read = $2, published = $3, quarantined = $4, retired = $5,
               watermark_to = COALESCE($6, watermark_to)
           WHERE run_id = $1""",
        run_id,
        counters.read,
        counters.published,
        counters.quarantined,
        counters.retired,
        watermark_to,
    )


async def finish(
    conn: Connection,
    run_id: int,
    status: RunStatus,
    counters: RunCounters,
    watermark_to: dict[str, Any] | None,
    error: str | None = None,
) -> datetime:
    finished = await conn.fetchval(
        """UPDATE sync_runs SET status = $2, finished_at = clock_timestamp(), rows_read = $3,
               published = $4, quarantined = $5, retired = $6,
               watermark_to = COALESCE($7, watermark_to), error = $8
           WHERE run_id = $1 RETURNING finished_at""",
        run_id,
        status,
        counters.read,
        counters.published,
        counters.quarantined,
        counters.retired,
        watermark_to,
        error,
    )
    assert isinstance(finished, datetime)
    return finished


_COLUMNS = """run_id, kind, trigger, status, started_at, finished_at, rows_read, published, quarantined,
              retired, watermark_from, watermark_to, error"""


def _summary(row: Any) -> RunSummary:
    return RunSummary(
        run_id=row["run_id"],
        kind=row["kind"],
        trigger=row["trigger"],
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        counters=RunCounters(row["rows_read"], row["published"], row["quarantined"], row["retired"]),
        watermark_from=row["watermark_from"],
        watermark_to=row["watermark_to"],
        error=row["error"],
    )


async def get(conn: Connection, run_id: int) -> RunSummary | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM sync_runs WHERE run_id = $1", run_id)
    return _summary(row) if row else None


async def recent(conn: Connection, limit: int = 20, kind: str | None = None) -> list[RunSummary]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM sync_runs WHERE ($2::text IS NULL OR kind = $2)
            ORDER BY run_id DESC LIMIT $1""",
        limit,
        kind,
    )
    return [_summary(r) for r in rows]


async def last_success(conn: Connection, kind: RunKind | None = None) -> datetime | None:
    """Start of the last successful run; of a full one when ``kind`` is "full" (any run reads changes)."""
    value = await conn.fetchval(
        """SELECT max(started_at) FROM sync_runs
           WHERE status = 'succeeded' AND ($1::text IS NULL OR kind = $1)""",
        "full" if kind == "full" else None,
    )
    return value if isinstance(value, datetime) else None


async def first_success(conn: Connection) -> datetime | None:
    value = await conn.fetchval("SELECT min(started_at) FROM sync_runs WHERE status = 'succeeded'")
    return value if isinstance(value, datetime) else None
