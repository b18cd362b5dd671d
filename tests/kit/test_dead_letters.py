"""Dead letters can be listed and replayed; the outbox and inbox are pruned after their retention."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from crmkit.cli import main as crmkit_cli
from crmkit.deadletter import read_dead_letters, replay
from crmkit.relay import OutboxRelay
from crmkit.runtime import ServiceRuntime
from eventually import eventually
from kit import pingpong
from kit.helpers import effect_counts
from kit.pingpong import REGISTRY, pinger, ponger, write_ping

pytestmark = pytest.mark.integration


async def test_a_dead_letter_is_listed_and_replayed_after_the_fix(
    settings_for, new_database, monkeypatch, capsys
):
    pinger_rt = ServiceRuntime(pinger(settings_for(database_url=await new_database("pinger"))))
    ponger_db = await new_database("ponger")
    ponger_rt = ServiceRuntime(ponger(settings_for(database_url=ponger_db, consumer_max_attempts=2)))
    async with pinger_rt.running({"relay"}), ponger_rt.running({"worker"}):
        async with pinger_rt.pool.acquire() as conn:
            await write_ping(conn, pinger_rt.outbox, "r", 1, note="fail")
            await write_ping(conn, pinger_rt.outbox, "r", 2)
        await eventually(lambda: effect_counts(ponger_db), lambda c: len(c) == 1, what="the good ping")
        letters = await eventually(
            lambda: read_dead_letters(ponger_rt.settings, "ponger"),
            lambda d: len(d) == 1,
            what="a dead letter",
        )
        summary = letters[0].summary()
        assert summary["event_type"] == "kit_test.pinged"
        assert summary["error"].startswith("handler failed 2 times")

        # The operator's view of the same thing, through the CLI.
        for key, value in {
            "KAFKA_BOOTSTRAP_SERVERS": ponger_rt.settings.kafka_bootstrap_servers,
            "TOPIC_PREFIX": ponger_rt.settings.topic_prefix,
        }.items():
            monkeypatch.setenv(key, value)
        assert await asyncio.to_thread(crmkit_cli, ["dlq", "list", "--service", "ponger"]) == 0
        assert summary["event_id"] in capsys.readouterr().out

        monkeypatch.setattr(pingpong, "BROKEN_NOTES", set())  # the fix is deployed
        replayed = await replay(ponger_rt.settings, "ponger", {summary["dlq_offset"]})
        assert [d.summary()["event_id"] for d in replayed] == [summary["event_id"]]
        counts = await eventually(
            lambda: effect_counts(ponger_db), lambda c: len(c) == 2, what="replayed ping"
        )
        assert counts[summary["event_id"]] == 1


async def test_published_outbox_rows_and_old_inbox_ids_are_pruned_after_retention(settings_for, new_database):
    dsn = await new_database("pinger")
    rt = ServiceRuntime(
        pinger(settings_for(database_url=dsn, outbox_retention_hours=1, inbox_retention_days=1))
    )
    async with rt.running(set()):
        async with rt.pool.acquire() as conn:
            for seq in range(3):
                await write_ping(conn, rt.outbox, "p", seq)
            # Two rows published long ago, one just now; one inbox id old, one recent.
            await conn.execute(
                """UPDATE kit_outbox SET published_at = now(),
                   created_at = CASE WHEN id <= 2 THEN now() - interval '2 hours' ELSE now() END"""
            )
            await conn.execute(
                """INSERT INTO kit_processed_events (consumer, event_id, processed_at) VALUES
                   ('x', gen_random_uuid(), now() - interval '2 days'), ('x', gen_random_uuid(), now())"""
            )
            await write_ping(conn, rt.outbox, "p", 3)  # old enough? no: unpublished rows are never pruned
            await conn.execute("UPDATE kit_outbox SET created_at = now() - interval '5 hours' WHERE id = 4")
        relay = OutboxRelay(rt.settings, topics=REGISTRY)
        relay._last_prune = -1e9
        conn = await asyncpg.connect(dsn)
        try:
            await relay._maybe_prune(conn)
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM kit_outbox ORDER BY id")]
            assert ids == [3, 4]
            assert await conn.fetchval("SELECT count(*) FROM kit_processed_events") == 1
        finally:
            await conn.close()
