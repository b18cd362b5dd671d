"""An API whose PostgreSQL is restarting answers 503 with Retry-After, never 500; a consumer retries."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from crmkit.consumer import INFRASTRUCTURE_ERRORS
from crmkit.db import DATABASE_UNAVAILABLE
from crmkit.http import create_app


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        ConnectionRefusedError(111, "Connection refused"),
        # The COMMIT of a request whose connection the stopping server cut mid-operation (the stack's fault
        # test): asyncpg refuses to go on with the connection.
        asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
    ],
)
async def test_database_unavailable_is_503_problem(error: Exception) -> None:
    app = create_app(title="t")

    @app.get("/thing")
    async def thing() -> dict[str, str]:
        raise error

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/thing")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "2"
    assert response.json()["status"] == 503


async def test_other_errors_stay_500() -> None:
    app = create_app(title="t")

    @app.get("/thing")
    async def thing() -> dict[str, str]:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/thing")
    assert response.status_code == 500


def test_consumers_retry_the_same_outages_instead_of_dead_lettering() -> None:
    assert issubclass(asyncpg.InternalClientError, INFRASTRUCTURE_ERRORS)
    assert all(issubclass(kind, INFRASTRUCTURE_ERRORS) for kind in DATABASE_UNAVAILABLE)
