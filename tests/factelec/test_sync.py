"""The sync end to end on the real PostgreSQL and broker: FACTELEC demo database -> topic -> test replica."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from eventually import eventually
from factelec.helpers import differences, replica_retired, replica_state, source_state
from factelec_sync.demo_source import generator
from factelec_sync.domain.reconcile import MassRetirement
from factelec_sync.publisher import Publisher
from factelec_sync.settings import Settings
from factelec_sync.store import known, quarantine, runs
from factelec_sync.store import watermark as watermark_store
from factelec_sync.sync import RunFailed, RunInProgress, SupplyPointSync

pytestmark = pytest.mark.integration


async def replica_matches_source(env: Any, replica_dsn: str, what: str, timeout: float = 30) -> None:
    expected, _ = await source_state(env.settings)
    actual = await eventually(
        lambda: replica_state(replica_dsn), lambda s: s == expected, timeout=timeout, what=what
    )
    assert actual == expected, differences(expected, actual)


async def test_incremental_changes_arrive_in_the_replica(sync_env, replica_dsn):
    env = await sync_env()
    await generator.fill(env.source_dsn, 3000, bad_rows=0, seed=1)

    first = await env.run()
    assert (first.status, first.counters.read, first.counters.published) == ("succeeded", 3000, 3000)
    await replica_matches_source(env, replica_dsn, "the first load in the replica")

    changed = await generator.mutate(env.source_dsn, update=40, disconnect=25, reconnect=5, insert=30, seed=2)
    second = await env.run()
    # Only what changed since the watermark is read again.
    assert (second.counters.read, second.counters.published) == (100, 100)
    assert second.watermark_from == first.watermark_to
    await replica_matches_source(env, replica_dsn, "the changes in the replica")
    replica = await replica_state(replica_dsn)
    assert {replica[nic][6] for nic in changed.disconnected} == {"disconnected"}
    assert all(nic in replica for nic in changed.inserted)

    third = await env.run()
    assert third.counters.read == 0 and third.watermark_to == second.watermark_to


async def test_reconciliation_retires_deleted_and_republishes_silently_changed_supply_points(
    sync_env, replica_dsn
):
    env = await sync_env()
    await generator.fill(env.source_dsn, 2000, bad_rows=0, seed=3)
    await env.run()
    await replica_matches_source(env, replica_dsn, "the first load")

    # Deleted rows, statuses changed by a batch job that kept the old update timestamp, and holders
    # renamed in the customers table: none of it moves the update timestamp of suministros.
    changed = await generator.mutate(env.source_dsn, delete=30, disconnect=20, rename=10, touch=False, seed=4)
    incremental = await env.run()
    assert incremental.counters.read == 0

    full = await env.run(full=True)
    assert full.status == "succeeded" and full.kind == "full"
    assert full.counters.retired == 30
    assert full.counters.read == 2000 - 30  # the reconciliation scan
    assert full.counters.published >= 30  # 20 disconnections, the renamed holders' supply points
    await replica_matches_source(env, replica_dsn, "reconciled state in the replica")
    retired = await eventually(
        lambda: replica_retired(replica_dsn), lambda r: r == set(changed.deleted), what="retirements"
    )
    assert retired == set(changed.deleted)
    replica = await replica_state(replica_dsn)
    assert {replica[nic][6] for nic in changed.disconnected} == {"disconnected"}

    again = await env.run(full=True)
    assert (again.counters.published, again.counters.retired) == (0, 0)
    known = await env.fetch("SELECT count(*) AS n FROM sync_known_supply_points WHERE retired_at IS NOT NULL")
    assert known[0]["n"] == 30


async def test_a_reconciliation_that_would_retire_too_much_stops_until_allowed(sync_env, replica_dsn):
    env = await sync_env(factelec_max_retire_fraction=0.2)
    await generator.fill(env.source_dsn, 500, bad_rows=0, seed=5)
    await env.run()
    await generator.mutate(env.source_dsn, delete=200, seed=6)

    with pytest.raises(RunFailed) as failed:
        await env.run(full=True)
    assert isinstance(failed.value.cause, MassRetirement)
    assert failed.value.summary.status == "failed" and failed.value.summary.counters.retired == 0
    assert "200 of 500" in (failed.value.summary.error or "")
    assert await replica_retired(replica_dsn) == set()

    allowed = await env.run(full=True, allow_mass_retire=True)
    assert allowed.counters.retired == 200
    await eventually(lambda: replica_retired(replica_dsn), lambda r: len(r) == 200, what="200 retired")


async def test_bad_rows_are_quarantined_and_the_run_goes_on(sync_env, replica_dsn):
    env = await sync_env()
    await generator.fill(env.source_dsn, 2000, bad_rows=24, seed=7)

    first = await env.run()
    assert first.status == "succeeded"
    assert (first.counters.read, first.counters.published, first.counters.quarantined) == (2000, 1976, 24)
    async with env.pool.acquire() as conn:
        rows, total = await quarantine.listing(conn, "open", 100)
    assert total == 24
    reasons = {reason for r in rows for reason in r["reasons"]}
    assert reasons <= {
        "missing NIC",
        "missing holder",
        "missing municipality",
        "missing department",
        "missing tariff",
        "invalid connection status 'X'",
        "invalid connection status '9'",
        "invalid connection status 'B'",
    }
    assert {"missing NIC", "missing holder", "missing tariff"} <= reasons
    assert all(r["raw"]["id_suministro"] == int(r["source_key"]) for r in rows)
    await replica_matches_source(env, replica_dsn, "the valid rows in the replica")

    # FACTELEC fixes the rows with an unknown status code: they are published and leave the quarantine.
    conn = await asyncpg.connect(env.source_dsn)
    try:
        fixed = await conn.fetch(
            """UPDATE suministros SET estado_conexion = 'C', fecha_actualizacion = clock_timestamp()
               WHERE estado_conexion NOT IN ('C', 'D', 'S') RETURNING id_suministro"""
        )
    finally:
        await conn.close()
    assert fixed
    second = await env.run()
    assert (second.counters.published, second.counters.quarantined) == (len(fixed), 0)
    async with env.pool.acquire() as conn:
        _, still_open = await quarantine.listing(conn, "open", 100)
        _, resolved = await quarantine.listing(conn, "resolved", 100)
    assert (still_open, resolved) == (24 - len(fixed), len(fixed))

    # A valid supply point that goes bad stays in the replica as it was, and is not retired; a bad row
    # deleted from the source leaves the quarantine with the next full scan.
    corrupted = await generator.mutate(env.source_dsn, corrupt=5, seed=8)
    conn = await asyncpg.connect(env.source_dsn)
    try:
        deleted = {
            str(r["id_suministro"])
            for r in await conn.fetch(
                "DELETE FROM suministros WHERE nic IS NULL OR btrim(nic) = '' RETURNING id_suministro"
            )
        }
    finally:
        await conn.close()
    assert deleted
    before = await replica_state(replica_dsn)
    third = await env.run(full=True)
    assert third.counters.retired == 0
    still_bad = 24 - len(fixed) - len(deleted) + 5
    # The incremental pass meets the 5 newly corrupted rows, the reconciliation scan every bad row.
    assert third.counters.quarantined == 5 + still_bad
    after = await replica_state(replica_dsn)
    assert all(after[nic] == before[nic] for nic in corrupted.corrupted)
    async with env.pool.acquire() as conn:
        open_rows, open_total = await quarantine.listing(conn, "open", 100)
    assert open_total == still_bad
    assert not deleted & {r["source_key"] for r in open_rows}


class FailingPublisher(Publisher):
    """The broker goes away after ``ok_pages`` pages were handed over."""

    ok_pages = 1

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.pages = 0

    async def publish(self, records: Any) -> Any:
        if self.pages >= self.ok_pages:
            raise KafkaConnectionError("the broker is gone (test)")
        self.pages += 1
        return await super().publish(records)


@pytest.mark.parametrize("stream", [True, False], ids=["cursor", "keyset-pages"])
async def test_equal_timestamps_across_a_batch_boundary_are_neither_skipped_nor_repeated(
    sync_env, replica_dsn, stream
):
    env = await sync_env(
        factelec_batch_size=10, factelec_max_inflight_batches=1, factelec_source_stream=stream
    )
    await generator.fill(env.source_dsn, 25, bad_rows=0, seed=9)
    same = dt.datetime(2026, 1, 15, 8, 0, tzinfo=dt.UTC)
    conn = await asyncpg.connect(env.source_dsn)
    try:
        await conn.execute("UPDATE suministros SET fecha_actualizacion = $1", same)
    finally:
        await conn.close()

    # The first run dies after its first page of 10: the watermark is (that timestamp, 10th key).
    crashing = SupplyPointSync(env.settings, env.pool, publisher_factory=FailingPublisher)
    with pytest.raises(RunFailed):
        await crashing.run(trigger="test")
    async with env.pool.acquire() as conn:
        wm = await watermark_store.get(conn)
    assert wm is not None and (wm.ts, wm.key) == (same, 10)

    # The next run reads exactly the 15 rows after it, all on the same timestamp.
    resumed = await env.run()
    assert (resumed.counters.read, resumed.counters.published) == (15, 15)
    assert resumed.watermark_to == {"ts": same.isoformat(), "key": 25}
    await replica_matches_source(env, replica_dsn, "all 25 rows")
    assert len(await replica_state(replica_dsn)) == 25


async def test_one_run_at_a_time(sync_env):
    env = await sync_env()
    holder = await asyncpg.connect(env.settings.database_url)
    try:
        assert await runs.try_lock(holder)
        with pytest.raises(RunInProgress):
            await env.run()
    finally:
        await holder.close()
    assert (await env.run()).status == "succeeded"


async def test_a_run_that_died_is_marked_interrupted_by_the_next(sync_env):
    env = await sync_env()
    await generator.fill(env.source_dsn, 100, bad_rows=0, seed=10)
    async with env.pool.acquire() as conn:
        import uuid

        dead, _ = await runs.start(conn, "incremental", "cli", uuid.uuid4(), None)
    summary = await env.run()
    assert summary.counters.read == 100
    async with env.pool.acquire() as conn:
        run = await runs.get(conn, dead)
    assert run is not None and run.status == "interrupted"


async def test_what_is_published_is_remembered_whether_every_nic_is_new_or_not(sync_env):
    """The bookkeeping tries a plain INSERT (all NICs new) and falls back to the upsert: same effect."""
    env = await sync_env()
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    async with env.pool.acquire() as conn:
        async with conn.transaction():
            await known.remember(conn, [("3000001", 1, "connected", t0), ("3000002", 2, "connected", t0)])
        await conn.execute("UPDATE sync_known_supply_points SET retired_at = now() WHERE nic = '3000002'")
        async with conn.transaction():  # one known and unchanged, one known and retired, one new
            await known.remember(
                conn,
                [
                    ("3000001", 1, "connected", t0),
                    ("3000002", 2, "suspended", t0),
                    ("3000003", 3, "connected", t0),
                ],
            )
    rows = {
        r["nic"]: (r["digest"], r["connection_status"], r["retired_at"])
        for r in await env.fetch(
            "SELECT nic, digest, connection_status, retired_at FROM sync_known_supply_points"
        )
    }
    assert rows == {
        "3000001": (1, "connected", None),
        "3000002": (2, "suspended", None),  # returned: remembered again, no longer retired
        "3000003": (3, "connected", None),
    }
