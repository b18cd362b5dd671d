"""HTTP API of the tickets service."""

from __future__ import annotations

from crmkit.http import create_app
from crmkit.runtime import ServiceRuntime
from fastapi import FastAPI


def build_api(runtime: ServiceRuntime) -> FastAPI:
    return create_app(
        title="EDESAL CRM — tickets",
        readiness={"database": runtime.check_database, "broker": runtime.check_broker},
    )
