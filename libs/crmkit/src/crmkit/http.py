"""The HTTP chassis every service API is built on: correlation ids, metrics, problem+json, health."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crmkit import context, metrics
from crmkit.problems import PROBLEM_JSON, install_problem_handlers

ReadinessCheck = Callable[[], Awaitable[None]]


def json_bytes(content: Any) -> bytes:
    """JSON straight from rows (orjson knows UUIDs, dates and datetimes, written "...Z" as pydantic does):
    the hot lists and creates skip FastAPI's response validation, which costs more than their query."""
    return orjson.dumps(content, default=_plain, option=orjson.OPT_UTC_Z)


def json_response(content: Any, status_code: int = 200) -> Response:
    return Response(json_bytes(content), status_code=status_code, media_type="application/json")


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):  # asyncpg's own UUID subclass, which orjson does not take as a UUID
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def create_app(
    *,
    title: str,
    version: str = "0.1.0",
    readiness: dict[str, ReadinessCheck] | None = None,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]] | None = None,
    root_path: str = "",
) -> FastAPI:
    app = FastAPI(title=title, version=version, lifespan=lifespan, root_path=root_path)
    install_problem_handlers(app)
    document_problems(app)
    checks = readiness or {}

    app.add_middleware(CorrelateAndMeasure)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        ok = True
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:
                ok = False
                results[name] = f"unavailable: {type(exc).__name__}"
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": results}, status_code=200 if ok else 503
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


class CorrelateAndMeasure:
    """Correlation id and latency of every request, as plain ASGI.

    The id comes from ``X-Request-ID`` (or ``X-Correlation-ID``), else a new one; it is set for the logs and
    the events the request causes and sent back as ``X-Request-ID``. Plain ASGI rather than
    ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs the app in a task of its own and copies
    every response through a stream, which cost a tenth of a millisecond per request on the hot paths.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming: str | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id" or (name == b"x-correlation-id" and incoming is None):
                incoming = value.decode("latin-1")
        try:
            cid = uuid.UUID(incoming) if incoming else uuid.uuid4()
        except ValueError:
            cid = uuid.uuid5(uuid.NAMESPACE_URL, incoming or "")
        echoed = (incoming or str(cid)).encode("latin-1")
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", echoed)]
            await send(message)

        token = context.correlation_id.set(cid)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            metrics.HTTP_LATENCY.labels(scope["method"], path, str(status)).observe(
                time.perf_counter() - started
            )
            context.correlation_id.reset(token)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details: what was wrong, and for a bad request the fields and rules.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemError"}},
    },
}
PROBLEM_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ProblemError",
    "description": "One broken rule: the field (when one is to blame), the rule's name and a message.",
    "type": "object",
    "required": ["rule", "message"],
    "properties": {"field": {"type": "string"}, "rule": {"type": "string"}, "message": {"type": "string"}},
}


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI document say what the API really answers on errors: problem+json.

    FastAPI documents a 422 with its own ``HTTPValidationError`` body, which this chassis never sends (see
    ``crmkit.problems``). Every operation instead documents its 422 and, as ``default``, every other error
    status (401, 403, 404, 409, 413, ...) with the ``Problem`` schema, so a client (or schemathesis) can
    check every error body against the document.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                if "422" in responses:
                    responses["422"] = {
                        "description": "Unprocessable request: the fields and the rules they break",
                        "content": problem,
                    }
                for status, response in responses.items():
                    if str(status)[0] in "45" and not response.get("content"):
                        response["content"] = problem  # a route that documents an error by its description
                responses.setdefault("default", {"description": "Any other error", "content": problem})
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        components["Problem"] = PROBLEM_SCHEMA
        components["ProblemError"] = PROBLEM_ERROR_SCHEMA
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
