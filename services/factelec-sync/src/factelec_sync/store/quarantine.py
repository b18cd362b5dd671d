"""Quarantined source rows: recorded (or seen again) by source key, resolved when the row is fixed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import orjson
from crmkit.db import Connection

from factelec_sync.domain.mapping import Rejected

SEPARATOR = "\x1f"
QuarantineState = Literal["open", "resolved", "all"]


async def record(conn: Connection, run_id: int, rejected: Sequence[Rejected]) -> None:
    if not rejected:
        return
    last = {r.key: r for r in rejected}  # one row per key in one statement
    rows = list(last.values())
    await conn.execute(
        """INSERT INTO sync_quarantine AS q (source_key, nic, reasons, raw, source_updated_at,
                                            first_run_id, last_run_id)
           SELECT k, n, string_to_array(r, $7), w::jsonb, t, $6, $6
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS u(k, n, r, w, t)
           ON CONFLICT (source_key) DO UPDATE SET nic = EXCLUDED.nic, reasons = EXCLUDED.reasons,
               raw = EXCLUDED.raw, source_updated_at = EXCLUDED.source_updated_at,
               last_run_id = EXCLUDED.last_run_id, last_seen_at = now(),
               times_seen = q.times_seen + 1, resolved_at = NULL""",
        [r.key for r in rows],
        [r.nic for r in rows],
        [SEPARATOR.join(r.reasons) for r in rows],
        [orjson.dumps(r.raw).decode() for r in rows],
        [r.source_updated_at for r in rows],
        run_id,
        SEPARATOR,
    )


async def open_count(conn: Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM sync_quarantine WHERE resolved_at IS NULL"))


async def open_keys(conn: Connection) -> set[str]:
    """Source keys in quarantine (a few per thousand rows of a sane source: kept in memory by a run)."""
    rows = await conn.fetch("SELECT source_key FROM sync_quarantine WHERE resolved_at IS NULL")
    return {r["source_key"] for r in rows}


async def resolve(conn: Connection, source_keys: Sequence[str]) -> int:
    """Rows that were quarantined and are now valid (and published) leave the quarantine."""
    if not source_keys:
        return 0
    result = await conn.execute(
        """UPDATE sync_quarantine SET resolved_at = now()
           WHERE source_key = ANY($1::text[]) AND resolved_at IS NULL""",
        list(source_keys),
    )
    return int(result.split()[-1])


async def resolve_all_but(conn: Connection, still_bad: Sequence[str]) -> int:
    """After a full scan: open entries whose source row was not seen bad again are gone or fixed."""
    result = await conn.execute(
        """UPDATE sync_quarantine SET resolved_at = now()
           WHERE resolved_at IS NULL AND NOT (source_key = ANY($1::text[]))""",
        list(still_bad),
    )
    return int(result.split()[-1])


async def listing(
    conn: Connection, state: QuarantineState = "open", limit: int = 100, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    where = {"open": "resolved_at IS NULL", "resolved": "resolved_at IS NOT NULL", "all": "true"}[state]
    rows = await conn.fetch(
        f"""SELECT source_key, nic, reasons, raw, source_updated_at, first_run_id, last_run_id,
                   first_seen_at, last_seen_at, times_seen, resolved_at
            FROM sync_quarantine WHERE {where}
            ORDER BY last_seen_at DESC, source_key LIMIT $1 OFFSET $2""",
        limit,
        offset,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM sync_quarantine WHERE {where}")
    return [dict(r) for r in rows], int(total)
