"""Shared pieces of the benchmarks: infrastructure, statistics, and the results file."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from crmkit import localstack

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "benchmarks"
sys.path.insert(0, str(ROOT / "tests"))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "samples": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
    }


@contextlib.contextmanager
def broker() -> Iterator[str]:
    """KAFKA_BOOTSTRAP_SERVERS when set, else a private Tansu broker for this run."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    with localstack.tansu() as bootstrap:
        yield bootstrap


def postgres_admin_url() -> str:
    url = localstack.existing_postgres_url()
    if not url:
        raise SystemExit("benchmarks need PostgreSQL: set DATABASE_URL or start the local server")
    return localstack.with_database(url, "postgres")


@contextlib.asynccontextmanager
async def scratch_database(label: str) -> Any:
    admin = postgres_admin_url()
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield localstack.with_database(admin, name)
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def write_results(name: str, results: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **results}, indent=2) + "\n")
    return path
