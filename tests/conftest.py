"""Session-wide real infrastructure for the tests: one PostgreSQL and one Kafka-protocol broker.

Each comes from the first of:
1. an environment variable (TEST_DATABASE_URL, TEST_KAFKA_BOOTSTRAP_SERVERS);
2. testcontainers (postgres, apache/kafka in KRaft mode) when a Docker engine answers;
3. local processes: the PostgreSQL on 127.0.0.1:5432 or a private cluster, and the Tansu broker.

Every test gets fresh databases (``new_database``) and a fresh topic prefix and consumer groups
(``settings_for``), so tests never see each other's data.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from crmkit import localstack
from crmkit.settings import KitSettings

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "test"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run the slow tier")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow") or os.environ.get("RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow tier: pass --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@dataclass(frozen=True)
class Infra:
    postgres_url: str  # admin URL (database "postgres")
    kafka: str
    kafka_is_apache: bool  # Apache Kafka supports the idempotent producer; Tansu does not


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _postgres() -> Iterator[str]:
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield pg.get_connection_url()
        return
    existing = localstack.existing_postgres_url()
    if existing:
        yield localstack.with_database(existing, "postgres")
        return
    with localstack.private_postgres(VAR / "pgdata") as url:
        yield url


@contextlib.contextmanager
def _kafka() -> Iterator[tuple[str, bool]]:
    if os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["TEST_KAFKA_BOOTSTRAP_SERVERS"], os.environ.get("TEST_KAFKA_IS_APACHE") == "1"
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:3.9.0").with_kraft() as kafka:
            yield kafka.get_bootstrap_server(), True
        return
    VAR.mkdir(parents=True, exist_ok=True)
    with localstack.tansu(log_path=VAR / "tansu.log") as bootstrap:
        yield bootstrap, False


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with _postgres() as pg, _kafka() as (kafka, is_apache):
        yield Infra(postgres_url=pg, kafka=kafka, kafka_is_apache=is_apache)


@pytest.fixture
async def new_database(infra: Infra) -> AsyncIterator[Callable[[str], Any]]:
    """Creates empty databases for this test (dropped afterwards). Call with a label; returns the URL.
    ``create=False``: only the URL of a database that does not exist yet (dropped afterwards if made)."""
    created: list[str] = []

    async def create(label: str, create: bool = True) -> str:
        name = f"t_{label.replace('-', '_')}_{uuid.uuid4().hex[:10]}"
        if create:
            conn = await asyncpg.connect(infra.postgres_url)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()
        created.append(name)
        return localstack.with_database(infra.postgres_url, name)

    yield create
    conn = await asyncpg.connect(infra.postgres_url)
    try:
        for name in created:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
def topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def settings_for(infra: Infra, topic_prefix: str) -> Callable[..., KitSettings]:
    """Settings for one service in this test: its own database URL, this test's topics and groups."""

    def make(cls: type[KitSettings] = KitSettings, **overrides: Any) -> KitSettings:
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": infra.kafka,
            "kafka_idempotence": infra.kafka_is_apache,
            "topic_prefix": topic_prefix,
            "consumer_session_timeout_ms": 3000,
            "consumer_heartbeat_interval_ms": 500,
            "consumer_retry_backoff_s": 0.05,
            "relay_poll_interval_s": 0.5,
            "relay_standby_interval_s": 0.2,
            "log_json": False,
            "gc_gen0_threshold": 0,  # leave the test process's garbage collector alone
        }
        values.update(overrides)
        return cls(**values)

    return make
