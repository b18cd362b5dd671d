"""Fixtures of the attentions tests: the service in-process on a fresh database, and callers with tokens.

``service`` runs the API only (no broker traffic: fast); ``service_with(parts=...)`` runs the worker and/or
relay too, for the tests that go through the real broker. Tokens come from a test ``DevTokenIssuer`` whose
public key the service trusts (JWT_PUBLIC_KEY), exactly as a real identity provider's would be. Shared
helpers live in ``atn_support`` (this folder is put on sys.path here).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Collection
from pathlib import Path
from typing import Any

import pytest
from attentions.service import define
from attentions.settings import Settings
from crmkit.auth import DevTokenIssuer
from crmkit.runtime import ServiceRuntime

sys.path.insert(0, str(Path(__file__).parent))

from atn_support import AUDIENCE, ISSUER, STAFF_CSV, Service, ServiceFactory


@pytest.fixture(scope="session")
def issuer() -> DevTokenIssuer:
    return DevTokenIssuer(issuer=ISSUER, audience=AUDIENCE, algorithm="RS256")


@pytest.fixture
async def service_with(
    settings_for: Callable[..., Any], new_database: Callable[[str], Any], issuer: DevTokenIssuer
) -> AsyncIterator[ServiceFactory]:
    stack = contextlib.AsyncExitStack()
    made: list[Service] = []

    async def make(parts: Collection[str] = ("api",), seed: bool = True, **overrides: Any) -> Service:
        values: dict[str, Any] = {
            "database_url": await new_database("attentions"),
            "jwt_issuer": ISSUER,
            "jwt_audience": AUDIENCE,
            "jwt_public_key": issuer.public_pem(),
            "create_topics": bool(set(parts) - {"api"}),
        }
        values.update(overrides)
        settings = settings_for(cls=Settings, **values)
        runtime = ServiceRuntime(define(settings))
        await stack.enter_async_context(runtime.running(set(parts) | {"api"}))
        service = Service(runtime, issuer)
        made.append(service)
        if seed:
            response = await service.admin.post(
                "/staff/import", files={"file": ("staff.csv", STAFF_CSV.encode(), "text/csv")}
            )
            assert response.status_code == 200, response.text
        return service

    try:
        yield make
    finally:
        for service in made:
            await service.close()
        await stack.aclose()


@pytest.fixture
async def service(service_with: ServiceFactory) -> Service:
    return await service_with()
