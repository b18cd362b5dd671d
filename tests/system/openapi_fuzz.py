"""Schemathesis against a service's own OpenAPI document, in process, on the test's event loop.

Schemathesis generates requests (hypothesis strategies from each operation's parameters and bodies, valid
and deliberately invalid ones) and checks every answer: never a 5xx, a body that conforms to the schema
the document declares for its status (``Problem`` for every error, see ``crmkit.http.document_problems``),
a documented status and content type.

The service's asyncpg pool lives on the test's event loop, while hypothesis drives a synchronous test: so
the generated cases run in a worker thread, and each request is handed to the loop
(``run_coroutine_threadsafe``) through a ``requests`` adapter that calls the ASGI app with httpx. The
responses schemathesis checks are the app's real responses, byte for byte.

Path parameters named like a seeded object (``client_id``, ``ticket_id``...) get that object's id half of
the time, so the fuzzer reaches the code behind "not found".
"""

from __future__ import annotations

import asyncio
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict
from schemathesis import DataGenerationMethod
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

schemathesis.experimental.OPEN_API_3_1.enable()  # FastAPI documents OpenAPI 3.1

CHECKS = (not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance)


class LoopAdapter(requests.adapters.BaseAdapter):
    """A ``requests`` transport that runs each request against an ASGI app on another thread's loop."""

    def __init__(self, app: FastAPI, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        # A 500 comes back as the response the client would get (and is logged by the app), not raised.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://fuzz")

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:  # type: ignore[override]
        assert request.method is not None and request.url is not None
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        body = request.body.encode() if isinstance(request.body, str) else request.body
        assert body is None or isinstance(body, bytes)
        coroutine = self.http.request(request.method, request.url, headers=headers, content=body)
        answer = asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.content
        response.reason = answer.reason_phrase
        response.url = request.url
        response.request = request
        response.encoding = answer.encoding
        response.elapsed = timedelta(0)
        return response

    def close(self) -> None:
        pass


@dataclass
class FuzzReport:
    service: str
    operations: int = 0
    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # operation -> first failure (minimal example)


def fuzz_service(
    service: str,
    app: FastAPI,
    loop: asyncio.AbstractEventLoop,
    token: str,
    known: Mapping[str, str],
    max_examples: int,
    shrink: bool = False,
    skip: tuple[str, ...] = (),
) -> FuzzReport:
    """Fuzz every operation of ``app`` (blocking; call from a worker thread). Returns what was seen."""
    assert threading.current_thread() is not threading.main_thread() or not loop.is_running()
    schema = schemathesis.from_dict(
        app.openapi(),
        base_url="http://fuzz",
        data_generation_methods=[DataGenerationMethod.positive, DataGenerationMethod.negative],
    )
    session = requests.Session()
    adapter = LoopAdapter(app, loop)
    session.mount("http://", adapter)
    headers = {"Authorization": f"Bearer {token}"}
    report = FuzzReport(service)
    phases = [Phase.explicit, Phase.generate, *([Phase.shrink] if shrink else [])]
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid operation fails the test here
        name = operation.verbose_name
        if any(name.endswith(s) for s in skip):
            continue
        report.operations += 1
        methods = [DataGenerationMethod.positive]
        if operation.definition.raw.get("parameters") or operation.body:
            methods.append(DataGenerationMethod.negative)  # nothing to make invalid otherwise
        strategies = [operation.as_strategy(data_generation_method=method) for method in methods]
        failure: dict[str, str] = {}

        @given(case=st.one_of(strategies), use_known=st.booleans())
        @settings(
            max_examples=max_examples,
            derandomize=True,
            deadline=None,
            database=None,
            phases=phases,
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        def run(case: Any, use_known: bool) -> None:
            if use_known and case.path_parameters:
                for key in list(case.path_parameters):
                    if key in known:
                        case.path_parameters[key] = known[key]
            response = case.call(session=session, headers=headers)
            report.cases += 1
            report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as exc:
                raise AssertionError(
                    f"{case.as_curl_command()}\n-> {response.status_code} {response.text[:500]}\n{exc}"
                ) from None

        try:
            run()
        except Exception as exc:
            failure[name] = "".join(traceback.format_exception_only(type(exc), exc))[-3000:]
        report.failures.update(failure)
    return report
