"""HTTP API of the factelec-sync service: read-only, for operators (runs, quarantine, lag).

Quarantined rows carry FACTELEC's personal data (holders' names, documents): every route needs a token
with one of FACTELEC_API_ROLES (``admin`` by default).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from crmkit.auth import TokenVerifier, install_auth, require_roles
from crmkit.http import create_app
from crmkit.problems import not_found
from crmkit.runtime import ServiceRuntime
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request

from factelec_sync.settings import Settings
from factelec_sync.store import known, quarantine, runs
from factelec_sync.store import watermark as watermark_store


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def build_api(runtime: ServiceRuntime) -> FastAPI:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    app = create_app(
        title="EDESAL CRM — factelec-sync",
        readiness={"database": runtime.check_database, "broker": runtime.check_broker},
    )
    app.state.runtime = runtime
    install_auth(app, TokenVerifier.from_settings(settings))
    # Every route: a verified token with one of the operator roles (401 without, 403 without the role).
    router = APIRouter(tags=["sync"], dependencies=[Depends(require_roles(*settings.factelec_api_roles))])

    @router.get("/runs", summary="The last runs, newest first, with their summaries")
    async def list_runs(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=500)] = 20,
        kind: Literal["incremental", "full"] | None = None,
    ) -> dict[str, Any]:
        async with _runtime(request).pool.acquire() as conn:
            items = await runs.recent(conn, limit, kind)
        return {"items": [r.as_dict() for r in items]}

    @router.get("/runs/{run_id}", summary="One run")
    async def get_run(request: Request, run_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> dict[str, Any]:
        async with _runtime(request).pool.acquire() as conn:
            run = await runs.get(conn, run_id)
        if run is None:
            raise not_found("run")
        return run.as_dict()

    @router.get("/quarantine", summary="Source rows that could not be published, and why")
    async def list_quarantine(
        request: Request,
        state: Literal["open", "resolved", "all"] = "open",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> dict[str, Any]:
        async with _runtime(request).pool.acquire() as conn:
            items, total = await quarantine.listing(conn, state, limit, offset)
        return {
            "items": [
                {**item, "reason": "; ".join(item["reasons"])} for item in (_json_safe(i) for i in items)
            ],
            "total": total,
            "limit": limit,
            "offset": offset,
        }

    @router.get("/status", summary="Watermark, last successful runs, published supply points")
    async def status(request: Request) -> dict[str, Any]:
        async with _runtime(request).pool.acquire() as conn:
            wm = await watermark_store.get(conn)
            last = await runs.last_success(conn)
            last_full = await runs.last_success(conn, "full")
            open_q = await quarantine.open_count(conn)
            counts = await known.status_counts(conn)
        return {
            "watermark": wm.as_json() if wm else None,
            "last_success_started_at": last.isoformat() if last else None,
            "last_full_success_started_at": last_full.isoformat() if last_full else None,
            "open_quarantine": open_q,
            "published_supply_points": counts,
        }

    app.include_router(router)
    return app


def _json_safe(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        out[key] = value.isoformat() if hasattr(value, "isoformat") else value
    return out
