"""HTTP API of the attentions service: one router per resource, wired here."""

from __future__ import annotations

from typing import Any

from crmkit.auth import DevTokenIssuer, TokenVerifier, install_auth
from crmkit.http import create_app
from crmkit.problems import Problem
from crmkit.runtime import ServiceRuntime
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from attentions.api import (
    attachments,
    attentions,
    audit,
    clients,
    dev_auth,
    events,
    staff,
    supply_points,
)
from attentions.domain.errors import RuleBroken
from attentions.settings import Settings

STATUS = {"invalid": 422, "conflict": 409, "too_large": 413}
TITLE = {"invalid": "Unprocessable request", "conflict": "Conflict", "too_large": "Payload too large"}


def build_api(runtime: ServiceRuntime) -> FastAPI:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    app = create_app(
        title="EDESAL CRM — attentions",
        readiness={"database": runtime.check_database, "broker": runtime.check_broker},
    )
    app.state.runtime = runtime
    app.state.settings = settings
    verifier = TokenVerifier.from_settings(settings)
    if settings.dev_auth:
        issuer: DevTokenIssuer = runtime.state.get("dev_issuer") or DevTokenIssuer.from_settings(settings)
        runtime.state["dev_issuer"] = issuer
        verifier.add_key(issuer.public_key)  # the same key as the file's, unless no key file is set
        app.state.dev_issuer = issuer
        app.include_router(dev_auth.router)
    install_auth(app, verifier)

    @app.exception_handler(RuleBroken)
    async def _rule_broken(request: Request, exc: RuleBroken) -> JSONResponse:
        errors: list[dict[str, Any]] = [
            {"field": v.field, "rule": v.rule, "message": v.message, **v.extra} for v in exc.violations
        ]
        problem = Problem(STATUS[exc.kind], TITLE[exc.kind], exc.detail, errors=errors)
        handler = app.exception_handlers[Problem]
        return await handler(request, problem)

    for module in (staff, clients, supply_points, attentions, events, attachments, audit):
        app.include_router(module.router)
    return app
