"""The command line, as an operator or a developer uses it: demo database, sync, status, quarantine."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

import asyncpg
import pytest
from crmkit import localstack

pytestmark = pytest.mark.integration


async def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    def call() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "factelec_sync", *args],
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = await asyncio.get_running_loop().run_in_executor(None, call)
    return done.returncode, done.stdout, done.stderr


async def test_demo_database_sync_status_and_quarantine_from_the_command_line(
    infra, new_database, topic_prefix
):
    name = f"t_fxdemo_{uuid.uuid4().hex[:10]}"
    demo = localstack.with_database(infra.postgres_url, name)
    try:
        code, out, err = await cli("demo-source", "--rows", "800", "--dsn", demo, "--seed", "5", "--quiet")
        assert code == 0, err
        filled = json.loads(out)
        assert (filled["created_database"], filled["added"], filled["bad_rows"]) == (True, 800, 2)
        code, out, err = await cli(
            "demo-source", "--rows", "200", "--dsn", demo, "--quiet", "--bad-rows", "0"
        )
        assert code == 0, err
        assert json.loads(out)["created_database"] is False and json.loads(out)["total_rows"] == 1000

        env = {
            "DATABASE_URL": await new_database("factelec_sync_cli"),
            "FACTELEC_SOURCE_DSN": demo,
            "FACTELEC_SOURCE_SETTLE_S": "0",
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
            "KAFKA_IDEMPOTENCE": str(infra.kafka_is_apache).lower(),
            "TOPIC_PREFIX": topic_prefix,
        }
        code, out, err = await cli("sync", "--json", env=env)
        assert code == 0, err
        first = json.loads(out)
        assert (first["status"], first["read"], first["published"], first["quarantined"]) == (
            "succeeded",
            1000,
            998,
            2,
        )
        assert first["peak_rss_mb"] > 0

        code, out, err = await cli(
            "demo-mutate", "--dsn", demo, "--update", "5", "--delete", "3", "--seed", "1", env=env
        )
        assert code == 0, err
        assert json.loads(out)["changed"]["deleted"] == 3

        code, out, err = await cli("sync", "--full", "--no-progress", env=env)
        assert code == 0, err
        assert "(full) succeeded" in out and "retired                 3" in out
        assert "read" in out and "rows/s" in out

        code, out, err = await cli("status", env=env)
        assert code == 0, err
        status = json.loads(out)
        assert status["pending_rows"] == 0 and status["open_quarantine"] == 2
        assert [r["kind"] for r in status["recent_runs"]] == ["full", "incremental"]

        code, out, err = await cli("quarantine", env=env)
        assert code == 0, err
        lines = [json.loads(line) for line in out.splitlines()]
        assert len(lines) == 2 and all(line["reasons"] for line in lines)
    finally:
        conn = await asyncpg.connect(infra.postgres_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
