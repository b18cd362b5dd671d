"""A sync run SIGKILLed in the middle, then run again: nothing lost, repeats harmless."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import asyncpg
import pytest
from eventually import eventually
from factelec.helpers import differences, replica_state, source_state
from factelec_sync.demo_source import generator
from factelec_sync.store import runs

pytestmark = pytest.mark.integration
ROWS = 50_000


def _sync_process(env, *args: str) -> subprocess.Popen[bytes]:
    s = env.settings
    environment = {
        **os.environ,
        "DATABASE_URL": s.database_url,
        "FACTELEC_SOURCE_DSN": s.factelec_source_dsn,
        "FACTELEC_SOURCE_SETTLE_S": "0",
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
        "KAFKA_IDEMPOTENCE": str(s.kafka_idempotence).lower(),
        "TOPIC_PREFIX": s.topic_prefix,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "factelec_sync", "sync", "--no-progress", "--json", *args],
        env=environment,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )


async def _committed(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        value = await conn.fetchval(
            "SELECT coalesce(max(rows_read), 0) FROM sync_runs WHERE status = 'running'"
        )
        return int(value)
    finally:
        await conn.close()


async def test_a_run_killed_mid_way_resumes_from_its_watermark_losing_nothing(sync_env, replica_dsn):
    env = await sync_env(factelec_batch_size=1000)
    await generator.fill(env.source_dsn, ROWS, bad_rows=0, seed=11)

    doomed = _sync_process(env, "--batch-size", "1000")
    try:
        # Kill it once some pages are committed, long before the end.
        await eventually(
            lambda: _committed(env.settings.database_url),
            lambda n: n >= 5_000,
            timeout=60,
            interval=0.01,
            what="the first committed pages",
        )
        os.killpg(doomed.pid, signal.SIGKILL)
        code = await asyncio.get_running_loop().run_in_executor(None, doomed.wait, 30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(doomed.pid, signal.SIGKILL)
    assert code == -signal.SIGKILL
    async with env.pool.acquire() as conn:
        [killed] = await runs.recent(conn, 1)
    assert killed.status == "running", "the run was killed before it could record its end"
    committed = killed.counters.read
    assert 5_000 <= committed < ROWS, f"killed too late to show anything ({committed} rows committed)"

    # FACTELEC keeps changing meanwhile, before and after the watermark.
    changed = await generator.mutate(env.source_dsn, update=150, disconnect=50, seed=12)

    started = time.monotonic()
    survivor = _sync_process(env, "--batch-size", "5000")
    out, _ = await asyncio.get_running_loop().run_in_executor(None, survivor.communicate, None, 120)
    assert survivor.returncode == 0, out
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert summary["status"] == "succeeded"
    # It read from the killed run's watermark: the rows after it plus the changed ones, not everything.
    assert (
        ROWS - committed
        <= summary["read"]
        <= ROWS - committed + len(changed.updated) + len(changed.disconnected)
    )
    assert summary["watermark_from"] == killed.watermark_to

    async with env.pool.acquire() as conn:
        killed_after = await runs.get(conn, killed.run_id)
    assert killed_after is not None and killed_after.status == "interrupted"

    expected, bad = await source_state(env.settings)
    assert bad == 0 and len(expected) == ROWS
    actual = await eventually(
        lambda: replica_state(replica_dsn), lambda s: s == expected, timeout=90, what="every supply point"
    )
    assert actual == expected, differences(expected, actual)
    assert time.monotonic() - started < 90
