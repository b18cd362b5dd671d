"""Migrations at start-up: every process of a service migrates its database before it serves, and replicas
start together (two API processes on one host, the api, worker and relay Deployments of one service)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from crmkit.db import migrate

pytestmark = pytest.mark.integration

SERVICE_MIGRATIONS = (
    Path(__file__).resolve().parents[2] / "services" / "tickets" / "src" / "tickets" / "migrations"
)


async def _applied(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
    finally:
        await conn.close()


async def _failures_of_migrating_at_once(dsn: str, processes: int) -> list[BaseException]:
    results = await asyncio.gather(
        *(migrate(dsn, [SERVICE_MIGRATIONS]) for _ in range(processes)), return_exceptions=True
    )
    return [r for r in results if isinstance(r, BaseException)]


async def test_processes_that_start_together_migrate_one_after_the_other(new_database: Any) -> None:
    """dbmate takes no lock: two at once both created the same types and one failed (a service process
    died at start in the attentions benchmark). Six at once, on an empty database, now all succeed."""
    dsn = await new_database("migrate_together")
    assert await _failures_of_migrating_at_once(dsn, 6) == []
    versions = await _applied(dsn)
    assert len(versions) == len(set(versions)) and len(versions) >= 3


async def test_processes_that_start_together_create_a_missing_database_once(new_database: Any) -> None:
    dsn = await new_database("migrate_create", create=False)
    assert await _failures_of_migrating_at_once(dsn, 4) == []
    assert "20261102000000" in await _applied(dsn)
