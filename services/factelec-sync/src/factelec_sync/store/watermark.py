"""The committed watermark (one row)."""

from __future__ import annotations

from crmkit.db import Connection

from factelec_sync.domain.watermark import Watermark


async def get(conn: Connection) -> Watermark | None:
    row = await conn.fetchrow("SELECT source_updated_at, source_key FROM sync_watermark WHERE id = 1")
    if row is None:
        return None
    return Watermark(row["source_updated_at"], row["source_key"])


async def save(conn: Connection, watermark: Watermark, run_id: int) -> None:
    await conn.execute(
        """INSERT INTO sync_watermark (id, source_updated_at, source_key, run_id, committed_at)
           VALUES (1, $1, $2, $3, now())
           ON CONFLICT (id) DO UPDATE SET source_updated_at = EXCLUDED.source_updated_at,
               source_key = EXCLUDED.source_key, run_id = EXCLUDED.run_id, committed_at = now()""",
        watermark.ts,
        watermark.key,
        run_id,
    )


async def reset(conn: Connection) -> None:
    """Forget the watermark: the next run reads (and publishes) every source row again."""
    await conn.execute("DELETE FROM sync_watermark")
