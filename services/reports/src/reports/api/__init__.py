"""HTTP API of the reports service: the REPORTES menu (JSON for the web client, CSV/XLSX/PDF downloads)."""

from __future__ import annotations

from crmkit.auth import TokenVerifier, install_auth
from crmkit.http import create_app
from crmkit.runtime import ServiceRuntime
from fastapi import FastAPI

from reports.api import routes
from reports.settings import Settings


def build_api(runtime: ServiceRuntime) -> FastAPI:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    app = create_app(
        title="EDESAL CRM — reports",
        readiness={"database": runtime.check_database, "broker": runtime.check_broker},
    )
    app.state.runtime = runtime
    app.state.settings = settings
    install_auth(app, TokenVerifier.from_settings(settings))
    app.include_router(routes.router)
    return app
