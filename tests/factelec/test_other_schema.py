"""Another FACTELEC schema is configuration only: a query, a column mapping, status codes, a time zone.

This source keys rows by the NIC itself (text), spells statuses out, and stamps updates in a ``timestamp``
column without time zone, in El Salvador's local time.
"""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest
from eventually import eventually
from factelec.helpers import replica_state

pytestmark = pytest.mark.integration

QUERY = """
SELECT codigo, cliente, dir, muni, depto, tarifa, medidor, estado, modificado
FROM puntos_suministro
WHERE (modificado, codigo) > (:after_ts, :after_key) AND modificado <= :until_ts
ORDER BY modificado, codigo
LIMIT :limit
"""
COLUMNS = {
    "key": "codigo",
    "nic": "codigo",
    "holder": "cliente",
    "address": "dir",
    "municipality": "muni",
    "department": "depto",
    "tariff": "tarifa",
    "meter": "medidor",
    "connection_status": "estado",
    "source_updated_at": "modificado",
}
STATUSES = {"ACTIVO": "connected", "CORTADO": "disconnected", "SUSPENDIDO": "suspended"}
LOCAL_NOON = dt.datetime(2026, 2, 10, 12, 0)  # 18:00 UTC


async def _insert(dsn: str, rows: list[tuple[str, str, dt.datetime]]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS puntos_suministro (
                   codigo text PRIMARY KEY, cliente text, dir text, muni text, depto text, tarifa text,
                   medidor text, estado text, modificado timestamp NOT NULL)"""
        )
        await conn.executemany(
            """INSERT INTO puntos_suministro VALUES ($1, 'Ana Rivera', 'Barrio El Centro #4', 'Izalco',
                   'Sonsonate', 'PD-RES', NULL, $2, $3)""",
            rows,
        )
    finally:
        await conn.close()


@pytest.mark.parametrize("stream", [True, False], ids=["cursor", "keyset-pages"])
async def test_a_differently_shaped_source_needs_only_configuration(
    new_database, sync_env, replica_dsn, stream
):
    source = await new_database("factelec_other")
    # Seven rows on one local timestamp (paged by a text key across batches of 3), one later, one bad.
    rows = [(f"NIC-{i:03d}", "ACTIVO", LOCAL_NOON) for i in range(7)]
    rows += [("NIC-100", "CORTADO", LOCAL_NOON + dt.timedelta(minutes=5)), ("NIC-101", "??", LOCAL_NOON)]
    await _insert(source, rows)
    env = await sync_env(
        factelec_source_dsn=source,
        factelec_source_query=QUERY,
        factelec_source_count_query="",
        factelec_source_columns=COLUMNS,
        factelec_source_statuses=STATUSES,
        factelec_source_timezone="America/El_Salvador",
        factelec_batch_size=3,
        factelec_source_stream=stream,
    )

    first = await env.run()
    assert (first.counters.read, first.counters.published, first.counters.quarantined) == (9, 8, 1)
    assert first.watermark_to == {"ts": "2026-02-10T18:05:00+00:00", "key": "NIC-100"}
    replica = await eventually(lambda: replica_state(replica_dsn), lambda s: len(s) == 8, what="8 rows")
    assert replica["NIC-000"][6:] == ("connected", dt.datetime(2026, 2, 10, 18, 0, tzinfo=dt.UTC))
    assert replica["NIC-100"][6] == "disconnected"

    # The watermark goes back to the source as local time: only the newer row is read.
    await _insert(source, [("NIC-200", "SUSPENDIDO", LOCAL_NOON + dt.timedelta(minutes=6))])
    second = await env.run()
    assert (second.counters.read, second.counters.published) == (1, 1)
    await eventually(lambda: replica_state(replica_dsn), lambda s: "NIC-200" in s, what="the new row")
