"""HTTP API of the tickets service: the TICKET menu (read only) and the ORDENES TÉCNICAS menu."""

from __future__ import annotations

import logging

from crmkit.auth import TokenVerifier, install_auth
from crmkit.http import create_app
from crmkit.problems import Problem
from crmkit.runtime import ServiceRuntime
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tickets.api import tickets, work_orders
from tickets.domain.errors import RuleBroken
from tickets.settings import Settings

log = logging.getLogger(__name__)
STATUS = {"invalid": 422, "conflict": 409, "forbidden": 403, "not_found": 404}
TITLE = {
    "invalid": "Unprocessable request",
    "conflict": "Conflict",
    "forbidden": "Forbidden",
    "not_found": "Not found",
}


def build_api(runtime: ServiceRuntime) -> FastAPI:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    app = create_app(
        title="EDESAL CRM — tickets",
        readiness={"database": runtime.check_database, "broker": runtime.check_broker},
    )
    app.state.runtime = runtime
    app.state.settings = settings
    install_auth(app, TokenVerifier.from_settings(settings))

    @app.exception_handler(RuleBroken)
    async def _rule_broken(request: Request, exc: RuleBroken) -> JSONResponse:
        error = {"rule": exc.rule, "message": exc.message}
        if exc.field:
            error = {"field": exc.field, **error}
        problem = Problem(STATUS[exc.kind], TITLE[exc.kind], exc.message, errors=[error])
        handler = app.exception_handlers[Problem]
        return await handler(request, problem)

    app.include_router(tickets.router)
    app.include_router(work_orders.router)
    return app
