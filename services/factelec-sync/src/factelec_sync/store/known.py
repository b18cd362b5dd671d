"""What was last published per NIC, and the NICs seen by the reconciliation scan in progress."""

from __future__ import annotations

from collections.abc import Sequence

from crmkit.db import Connection

from factelec_sync.domain.events import Prepared
from factelec_sync.domain.reconcile import Known


async def remember(conn: Connection, prepared: Sequence[Prepared]) -> None:
    """Record what is about to be published. Written BEFORE the publish: a supply point a replica may
    hold is always known here, so a later reconciliation can retire it."""
    if not prepared:
        return
    await conn.execute(
        """INSERT INTO sync_known_supply_points AS k (nic, digest, connection_status, source_updated_at)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[])
           ON CONFLICT (nic) DO UPDATE SET digest = EXCLUDED.digest,
               connection_status = EXCLUDED.connection_status,
               source_updated_at = EXCLUDED.source_updated_at, recorded_at = now(), retired_at = NULL
           WHERE k.digest <> EXCLUDED.digest OR k.retired_at IS NOT NULL""",
        [p.point.nic for p in prepared],
        [p.digest for p in prepared],
        [p.point.connection_status for p in prepared],
        [p.point.source_updated_at for p in prepared],
    )


async def lookup(conn: Connection, nics: Sequence[str]) -> dict[str, Known]:
    if not nics:
        return {}
    rows = await conn.fetch(
        """SELECT nic, digest, retired_at IS NOT NULL AS retired
           FROM sync_known_supply_points WHERE nic = ANY($1::text[])""",
        list(nics),
    )
    return {r["nic"]: Known(r["digest"], r["retired"]) for r in rows}


async def count_active(conn: Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM sync_known_supply_points WHERE retired_at IS NULL"))


async def clear_seen(conn: Connection) -> None:
    await conn.execute("TRUNCATE sync_reconcile_seen")


async def mark_seen(conn: Connection, nics: Sequence[str]) -> None:
    if nics:
        await conn.copy_records_to_table("sync_reconcile_seen", records=[(n,) for n in nics], columns=["nic"])


_NOT_SEEN = """FROM sync_known_supply_points k
           WHERE k.retired_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM sync_reconcile_seen s WHERE s.nic = k.nic)"""


async def count_not_seen(conn: Connection) -> int:
    """How many active NICs the scan did not see (gone from the source)."""
    # Fresh statistics, or the planner may pick a nested loop over a table it believes empty.
    await conn.execute("ANALYZE sync_reconcile_seen")
    return int(await conn.fetchval(f"SELECT count(*) {_NOT_SEEN}"))


async def not_seen(conn: Connection) -> list[str]:
    """The active NICs the scan did not see, in NIC order."""
    rows = await conn.fetch(f"SELECT k.nic {_NOT_SEEN} ORDER BY k.nic")
    return [r["nic"] for r in rows]


async def mark_retired(conn: Connection, nics: Sequence[str]) -> None:
    if nics:
        await conn.execute(
            "UPDATE sync_known_supply_points SET retired_at = now() WHERE nic = ANY($1::text[])", list(nics)
        )


async def status_counts(conn: Connection) -> dict[str, int]:
    rows = await conn.fetch(
        """SELECT CASE WHEN retired_at IS NOT NULL THEN 'retired' ELSE connection_status END AS s,
                  count(*) AS n
           FROM sync_known_supply_points GROUP BY 1"""
    )
    return {r["s"]: int(r["n"]) for r in rows}
