"""Fixtures of the factelec-sync tests: a FACTELEC demo database, the sync's own database and settings, and a
test replica (a kit consumer) fed from the topic, all on the session's real PostgreSQL and broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from crmkit.db import create_pool, migrate
from crmkit.kafka import ensure_topics
from crmkit.runtime import ServiceRuntime
from crmkit.settings import KitSettings
from factelec.replica import replica
from factelec_sync.demo_source import generator
from factelec_sync.domain.runs import RunSummary
from factelec_sync.service import MIGRATIONS, produced_topics
from factelec_sync.settings import Settings
from factelec_sync.sync import SupplyPointSync


@pytest.fixture
async def source_dsn(new_database: Callable[[str], Any]) -> str:
    """An empty FACTELEC demo database (schema and reference data)."""
    dsn: str = await new_database("factelec_src")
    conn = await asyncpg.connect(dsn)
    try:
        await generator.create_schema(conn)
    finally:
        await conn.close()
    return dsn


@dataclass
class SyncEnv:
    settings: Settings
    pool: asyncpg.Pool
    source_dsn: str
    runners: list[SupplyPointSync] = field(default_factory=list)

    def runner(self, **overrides: Any) -> SupplyPointSync:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        return SupplyPointSync(settings, self.pool)

    async def run(self, *, full: bool = False, **kwargs: Any) -> RunSummary:
        return await self.runner().run(full=full, trigger="test", **kwargs)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
            return rows


@pytest.fixture
async def sync_env(
    new_database: Callable[[str], Any], settings_for: Callable[..., Any], source_dsn: str
) -> AsyncIterator[Callable[..., Awaitable[SyncEnv]]]:
    """Makes the sync's settings (its own fresh database, this test's topic prefix) and migrates."""
    pools: list[asyncpg.Pool] = []

    async def make(**overrides: Any) -> SyncEnv:
        values: dict[str, Any] = {
            "database_url": await new_database("factelec_sync"),
            "factelec_source_dsn": source_dsn,
            "factelec_source_settle_s": 0.0,
            "factelec_batch_size": 500,
            "factelec_sync_interval_s": 0.0,
            "factelec_metrics_refresh_s": 0.5,
            "log_level": "WARNING",
        }
        values.update(overrides)
        settings: Settings = settings_for(Settings, **values)
        await migrate(settings.database_url, [MIGRATIONS])
        await ensure_topics(settings, produced_topics())
        pool = await create_pool(settings.database_url, max_size=6)
        pools.append(pool)
        return SyncEnv(settings, pool, source_dsn)

    yield make
    for pool in pools:
        await pool.close()


@pytest.fixture
async def replica_dsn(
    new_database: Callable[[str], Any], settings_for: Callable[..., Any]
) -> AsyncIterator[str]:
    """A test replica consuming this test's topic (its own consumer group), running while the test runs."""
    dsn: str = await new_database("replica")
    settings: KitSettings = settings_for(KitSettings, database_url=dsn, consumer_max_records=2000)
    runtime = ServiceRuntime(replica(settings))
    async with runtime.running({"worker"}):
        yield dsn
