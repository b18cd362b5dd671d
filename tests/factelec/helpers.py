"""What the source says (through the sync's own configured query and mapping) and what a replica holds."""

from __future__ import annotations

from typing import Any

import asyncpg
from factelec_sync.domain.mapping import SourceSchema, SupplyPoint, map_row
from factelec_sync.domain.watermark import END_OF_TIME, Watermark
from factelec_sync.settings import Settings
from factelec_sync.source import open_source

State = dict[str, tuple[Any, ...]]


def _state(point: SupplyPoint) -> tuple[Any, ...]:
    return (
        point.holder,
        point.address,
        point.municipality,
        point.department,
        point.tariff,
        point.meter,
        point.connection_status,
        point.source_updated_at,
    )


async def source_state(settings: Settings) -> tuple[State, int]:
    """Valid supply points of the source by NIC (as the contract sees them), and the count of bad rows."""
    schema = SourceSchema.from_config(
        settings.factelec_source_columns, settings.factelec_source_statuses, settings.factelec_source_timezone
    )
    source = open_source(settings)
    await source.open()
    state: State = {}
    bad = 0
    try:
        async for page in source.scan(Watermark.initial(), END_OF_TIME, 5000):
            for row in page:
                point = map_row(row, schema)
                if isinstance(point, SupplyPoint):
                    state[point.nic] = _state(point)
                else:
                    bad += 1
    finally:
        await source.close()
    return state, bad


async def replica_state(dsn: str) -> State:
    """Supply points the replica holds and has not retired."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT nic, holder, address, municipality, department, tariff, meter, connection_status,
                      source_updated_at
               FROM supply_points WHERE retired_at IS NULL"""
        )
    finally:
        await conn.close()
    return {r["nic"]: tuple(r)[1:] for r in rows}


async def replica_retired(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT nic FROM supply_points WHERE retired_at IS NOT NULL")
    finally:
        await conn.close()
    return {r["nic"] for r in rows}


def differences(expected: State, actual: State, limit: int = 5) -> str:
    missing = [n for n in expected if n not in actual]
    extra = [n for n in actual if n not in expected]
    wrong = [n for n in expected if n in actual and expected[n] != actual[n]]
    return (
        f"missing {len(missing)} {missing[:limit]}, extra {len(extra)} {extra[:limit]}, "
        f"different {len(wrong)} {[(n, expected[n], actual[n]) for n in wrong[:2]]}"
    )
