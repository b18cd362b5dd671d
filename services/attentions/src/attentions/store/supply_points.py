"""The suministros replica: FACTELEC supply points, written only by the event handlers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from crmkit.db import Connection

from attentions.store import like, row

COLUMNS = (
    "nic, holder, address, municipality, department, tariff, meter, connection_status, source_updated_at, "
    "retired_at, retired_reason"
)

# Rows are (nic, holder, address, municipality, department, tariff, meter, connection_status,
# source_updated_at), at most one per NIC. A batch goes by binary COPY into a temporary table, then into the
# replica with one statement: asyncpg encodes unnest() arrays element by element (about 10 µs a row for nine
# arrays in the worker, against about 3 for COPY), and the replica takes a million rows at a full sync.
INCOMING = "supply_points_incoming"
INCOMING_COLUMNS = [
    "nic",
    "holder",
    "address",
    "municipality",
    "department",
    "tariff",
    "meter",
    "connection_status",
    "source_updated_at",
]
# Per connection (pooled connections keep it), emptied at every commit.
CREATE_INCOMING = f"""
CREATE TEMP TABLE IF NOT EXISTS {INCOMING} (
    nic text, holder text, address text, municipality text, department text, tariff text, meter text,
    connection_status text, source_updated_at timestamptz
) ON COMMIT DELETE ROWS
"""
# Newest source_updated_at wins. An equal one applies when the content differs (FACTELEC's reconciliation
# republishes a status changed without touching the row's timestamp) and is a no-op otherwise, so a
# repeated event writes nothing (no new row version, no index entry). A newer row brings a retired supply
# point back.
UPSERT = f"""
INSERT INTO supply_points AS sp (nic, holder, address, municipality, department, tariff, meter,
                                 connection_status, source_updated_at)
SELECT nic, holder, address, municipality, department, tariff, meter, connection_status, source_updated_at
FROM {INCOMING}
ON CONFLICT (nic) DO UPDATE SET
    holder = EXCLUDED.holder, address = EXCLUDED.address, municipality = EXCLUDED.municipality,
    department = EXCLUDED.department, tariff = EXCLUDED.tariff, meter = EXCLUDED.meter,
    connection_status = EXCLUDED.connection_status, source_updated_at = EXCLUDED.source_updated_at,
    retired_at = CASE WHEN sp.retired_at IS NOT NULL AND sp.retired_at < EXCLUDED.source_updated_at
                      THEN NULL ELSE sp.retired_at END,
    retired_reason = CASE WHEN sp.retired_at IS NOT NULL AND sp.retired_at < EXCLUDED.source_updated_at
                          THEN NULL ELSE sp.retired_reason END,
    replicated_at = now()
WHERE sp.source_updated_at < EXCLUDED.source_updated_at
   OR (sp.source_updated_at = EXCLUDED.source_updated_at
       AND (sp.holder, sp.address, sp.municipality, sp.department, sp.tariff, sp.meter, sp.connection_status)
           IS DISTINCT FROM (EXCLUDED.holder, EXCLUDED.address, EXCLUDED.municipality, EXCLUDED.department,
                             EXCLUDED.tariff, EXCLUDED.meter, EXCLUDED.connection_status))
"""


async def upsert_many(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Must run inside a transaction (the staging table is emptied at its commit)."""
    if not rows:
        return
    await conn.execute(CREATE_INCOMING)
    await conn.copy_records_to_table(INCOMING, records=rows, columns=INCOMING_COLUMNS)
    await conn.execute(UPSERT)


async def retire_many(conn: Connection, retirements: Sequence[tuple[str, str, datetime]]) -> None:
    """(nic, reason, when). The row stays (attentions point at it) but is marked retired."""
    if not retirements:
        return
    nics, reasons, moments = (list(c) for c in zip(*retirements, strict=True))
    await conn.execute(
        """UPDATE supply_points sp SET retired_at = r.at, retired_reason = r.reason, replicated_at = now()
             FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS r(nic, reason, at)
            WHERE sp.nic = r.nic AND sp.retired_at IS NULL""",
        nics,
        reasons,
        moments,
    )


async def get(conn: Connection, nic: str) -> dict[str, Any] | None:
    return row(await conn.fetchrow(f"SELECT {COLUMNS} FROM supply_points WHERE nic = $1", nic))


async def search(
    conn: Connection,
    *,
    q: str | None,
    nic: str | None,
    holder: str | None,
    address: str | None,
    include_retired: bool,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    where = ["TRUE"]
    args: list[Any] = []
    if not include_retired:
        where.append("retired_at IS NULL")
    if nic:
        args.append(nic)
        where.append(f"nic = ${len(args)}")
    if holder:
        args.append(like(holder))
        where.append(f"holder ILIKE ${len(args)}")
    if address:
        args.append(like(address))
        where.append(f"address ILIKE ${len(args)}")
    if q:
        args.append(q)
        args.append(like(q))
        n = len(args)
        where.append(f"(nic = ${n - 1} OR holder ILIKE ${n} OR address ILIKE ${n})")
    clause = " AND ".join(where)
    # A capped count: exact up to 10,000 matches, so a broad search over a million rows stays fast.
    total = await conn.fetchval(
        f"SELECT count(*) FROM (SELECT 1 FROM supply_points WHERE {clause} LIMIT 10001) t", *args
    )
    rows = await conn.fetch(
        f"""SELECT {COLUMNS} FROM supply_points WHERE {clause}
            ORDER BY nic LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}""",
        *args,
        limit,
        offset,
    )
    return [dict(r) for r in rows], int(total)
