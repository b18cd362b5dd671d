"""RFC 9457 problem details: every error a client sees names what was wrong, never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from crmkit.db import DATABASE_UNAVAILABLE

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """A rule of the domain or the API was broken. ``errors`` names the fields and the rules."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.type = type_
        self.headers = headers


def field_error(field: str, rule: str, message: str) -> dict[str, str]:
    return {"field": field, "rule": rule, "message": message}


def unprocessable(field: str, rule: str, message: str, **extra: Any) -> Problem:
    return Problem(
        422, "Unprocessable request", message, errors=[{**field_error(field, rule, message), **extra}]
    )


def not_found(what: str) -> Problem:
    return Problem(404, "Not found", f"{what} not found")


def conflict(rule: str, message: str, **extra: Any) -> Problem:
    return Problem(409, "Conflict", message, errors=[{"rule": rule, "message": message, **extra}])


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    body = {k: v for k, v in body.items() if v is not None}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# Errors that mean PostgreSQL is restarting or unreachable, not that the request is wrong.


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return _response(
            exc.status,
            {
                "type": exc.type,
                "title": exc.title,
                "status": exc.status,
                "detail": exc.detail,
                "instance": request.url.path,
                "errors": exc.errors or None,
            },
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            field = ".".join(loc[1:] if loc and loc[0] in {"body", "query", "path", "header"} else loc)
            errors.append(
                {"field": field or "body", "rule": err.get("type", "invalid"), "message": err.get("msg")}
            )
        return _response(
            422,
            {
                "type": "about:blank",
                "title": "Unprocessable request",
                "status": 422,
                "detail": "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]),
                "instance": request.url.path,
                "errors": errors,
            },
        )

    # Starlette's own exception (unknown routes, 405) as well as FastAPI's subclass.
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed"}.get(
            exc.status_code, "Error"
        )
        detail = exc.detail if isinstance(exc.detail, str) else None
        return _response(
            exc.status_code,
            {
                "type": "about:blank",
                "title": title,
                "status": exc.status_code,
                "detail": detail,
                "instance": request.url.path,
            },
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(asyncpg.CharacterNotInRepertoireError)
    @app.exception_handler(asyncpg.UntranslatableCharacterError)
    async def _bad_text(request: Request, exc: Exception) -> JSONResponse:
        # Text PostgreSQL cannot store (a NUL byte in a path, query or body): the request's fault.
        return _response(
            422,
            {
                "type": "about:blank",
                "title": "Unprocessable request",
                "status": 422,
                "detail": "the request contains characters that cannot be stored (e.g. a NUL byte)",
                "instance": request.url.path,
                "errors": [
                    {
                        "field": "request",
                        "rule": "storable_text",
                        "message": "text must not contain NUL bytes",
                    }
                ],
            },
        )

    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # PostgreSQL restarting or unreachable: "try again shortly", which clients and gateways know how to
        # retry. Almost always nothing was written; but a connection lost during COMMIT leaves the outcome
        # unknown even to this service, so a retry is only safe with an Idempotency-Key (crmkit.idempotency).
        log.warning("database unavailable on %s %s: %r", request.method, request.url.path, exc)
        return _response(
            503,
            {
                "type": "about:blank",
                "title": "Service unavailable",
                "status": 503,
                "detail": (
                    "The database is not reachable right now. Try again shortly; a write sent again with the "
                    "same Idempotency-Key is applied at most once."
                ),
                "instance": request.url.path,
            },
            headers={"Retry-After": "2"},
        )

    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _response(
            500,
            {
                "type": "about:blank",
                "title": "Internal error",
                "status": 500,
                "detail": "The request could not be completed; it has been logged.",
                "instance": request.url.path,
            },
        )
