"""The web client's FastAPI app: the kit's chassis (health, metrics, correlation ids) and the pages."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
from crmkit.http import create_app
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from webclient import labels
from webclient.api import ApiError
from webclient.pages import (
    attentions,
    auth,
    clients,
    events,
    home,
    oidc,
    reports,
    supply_points,
    tickets,
    work_orders,
)
from webclient.session import current_user
from webclient.settings import Settings
from webclient.web import TEMPLATES, CsrfRejected, LoginRequired, NotFound

STATIC = Path(__file__).parent / "static"


def install_filters(settings: Settings) -> None:
    env = TEMPLATES.env
    env.filters["fecha"] = labels.fmt_date
    env.filters["fechahora"] = lambda v: labels.fmt_datetime(v, settings.timezone)
    env.globals["L"] = labels
    env.globals["new_key"] = lambda: uuid.uuid4().hex


def error_page(request: Request, settings: Settings, status: int, title: str, message: str) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        "error.html",
        {"user": current_user(request, settings), "title": title, "message": message, "csrf": ""},
        status_code=status,
    )


def build_app(settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """``transport`` lets fast tests answer for the APIs without a network."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=settings.api_timeout_s, transport=transport) as http:
            app.state.http = http
            yield

    app = create_app(title="EDESAL CRM web", lifespan=lifespan)
    app.state.settings = settings
    install_filters(settings)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'",
        )
        return response

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(f"/login?{httpx.QueryParams({'siguiente': target})}", status_code=303)
        response.delete_cookie(settings.session_cookie, path="/")
        return response

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, exc: CsrfRejected) -> Response:
        return error_page(
            request, settings, 403, "Formulario vencido",
            "El formulario ya no es válido (la sesión cambió). Vuelva a la página e intente de nuevo.",
        )  # fmt: skip

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return error_page(
            request, settings, 404, "No encontrado", "La página no existe o usted no tiene acceso."
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if exc.status == 401:
            return await login_required(request, LoginRequired())
        if exc.status == 404:
            return await not_found(request, NotFound())
        return error_page(request, settings, exc.status if exc.status >= 400 else 502, "No se pudo completar",
                          exc.error.message)  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def bad_path(request: Request, exc: RequestValidationError) -> Response:
        return await not_found(request, NotFound())  # e.g. /clientes/not-a-uuid

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return await not_found(request, NotFound())
        return error_page(request, settings, exc.status_code, "Error", "La solicitud no es válida.")

    for module in (
        auth,
        oidc,
        home,
        clients,
        supply_points,
        attentions,
        events,
        tickets,
        work_orders,
        reports,
    ):
        app.include_router(module.router)
    return app
