"""The service: the scheduled sync inside ``run``/``worker``, the read API behind tokens, the metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from crmkit.auth import DevTokenIssuer
from crmkit.runtime import ServiceRuntime
from eventually import eventually
from factelec.helpers import replica_state, source_state
from factelec_sync import metrics
from factelec_sync.demo_source import generator
from factelec_sync.scheduler import full_run_due
from factelec_sync.service import define
from prometheus_client import REGISTRY

pytestmark = pytest.mark.integration
ISSUER = "edesal-crm"


def _gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels or None)


async def test_the_service_syncs_on_its_schedule_and_reports_its_lag(sync_env, replica_dsn):
    env = await sync_env(factelec_sync_interval_s=0.3, factelec_metrics_refresh_s=0.2)
    await generator.fill(env.source_dsn, 1500, bad_rows=3, seed=21)
    published_before = _gauge("factelec_sync_events_published_total", event="upserted") or 0.0

    runtime = ServiceRuntime(define(env.settings))
    async with runtime.running({"worker"}):
        expected, _ = await source_state(env.settings)
        await eventually(lambda: replica_state(replica_dsn), lambda s: s == expected, what="scheduled load")
        changed = await generator.mutate(env.source_dsn, update=20, insert=10, seed=22)
        expected, _ = await source_state(env.settings)
        await eventually(
            lambda: replica_state(replica_dsn), lambda s: s == expected, what="scheduled changes"
        )
        assert all(nic in expected for nic in changed.inserted)

        async def caught_up() -> tuple[float | None, float | None]:
            return _gauge("factelec_sync_pending_rows"), _gauge("factelec_sync_oldest_pending_age_seconds")

        await eventually(caught_up, lambda v: v == (0.0, 0.0), what="no lag behind the source")
        assert (_gauge("factelec_sync_quarantine_open") or 0) == 3
        assert (_gauge("factelec_sync_last_success_timestamp_seconds", kind="incremental") or 0) > 0
        assert (
            _gauge("factelec_sync_events_published_total", event="upserted") or 0
        ) - published_before >= 1527
        assert _gauge("factelec_sync_watermark_age_seconds") is not None

    async with env.pool.acquire() as conn:
        statuses = {r["status"] for r in await conn.fetch("SELECT status FROM sync_runs")}
        trigger = {r["trigger"] for r in await conn.fetch("SELECT trigger FROM sync_runs")}
    assert statuses <= {"succeeded", "interrupted"} and "succeeded" in statuses
    assert trigger == {"schedule"}
    assert metrics.RUN_IN_PROGRESS._value.get() == 0


async def test_the_read_api_shows_runs_and_quarantined_rows_to_operators(sync_env):
    issuer = DevTokenIssuer(issuer=ISSUER, audience=ISSUER, algorithm="RS256")
    env = await sync_env(jwt_public_key=issuer.public_pem(), jwt_issuer=ISSUER, jwt_audience=ISSUER)
    await generator.fill(env.source_dsn, 600, bad_rows=6, seed=23)
    summary = await env.run()

    runtime = ServiceRuntime(define(env.settings))
    async with runtime.running({"api"}):
        assert runtime.api is not None
        transport = httpx.ASGITransport(app=runtime.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://factelec-sync") as http:
            assert (await http.get("/runs")).status_code == 401
            clerk = issuer.issue("u-clerk", roles=["staff"])
            forbidden = await http.get("/runs", headers={"Authorization": f"Bearer {clerk}"})
            assert forbidden.status_code == 403

            admin = {"Authorization": f"Bearer {issuer.issue('u-admin', roles=['admin'])}"}
            listed = (await http.get("/runs", headers=admin)).json()["items"]
            assert [r["run_id"] for r in listed] == [summary.run_id]
            assert listed[0]["read"] == 600 and listed[0]["quarantined"] == 6 and listed[0]["rows_per_s"] > 0

            one = await http.get(f"/runs/{summary.run_id}", headers=admin)
            assert one.status_code == 200 and one.json()["status"] == "succeeded"
            missing = await http.get("/runs/999999", headers=admin)
            assert missing.status_code == 404
            assert missing.headers["content-type"].startswith("application/problem+json")

            quarantined = (await http.get("/quarantine", headers=admin)).json()
            assert quarantined["total"] == 6 and len(quarantined["items"]) == 6
            item = quarantined["items"][0]
            assert item["reason"] and item["raw"]["id_suministro"] == int(item["source_key"])
            assert item["first_run_id"] == summary.run_id

            status = (await http.get("/status", headers=admin)).json()
            assert status["watermark"] == summary.watermark_to
            assert status["open_quarantine"] == 6
            assert sum(status["published_supply_points"].values()) == 594


async def test_a_full_reconciliation_is_due_once_the_interval_has_passed(sync_env):
    env = await sync_env(factelec_reconcile_interval_s=3600.0)
    assert not await full_run_due(env.pool, env.settings)  # the very first run reads everything anyway
    await env.run()
    later = datetime.now(UTC) + timedelta(hours=2)
    assert not await full_run_due(env.pool, env.settings)
    assert await full_run_due(env.pool, env.settings, now=later)
    await env.run(full=True)
    assert not await full_run_due(env.pool, env.settings, now=later - timedelta(minutes=61))
    never = env.settings.model_copy(update={"factelec_reconcile_interval_s": 0.0})
    assert not await full_run_due(env.pool, never, now=later + timedelta(days=9))
