"""Sign-in and sign-out. Locally: the development issuer of the attentions service (POST /dev/token).

In production the token comes from the company's OpenID Connect provider (OIDC_* settings, docs/web.md);
this client stores whichever bearer token it got in the session cookie and sends it to the APIs.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from webclient.api import Api, ApiError
from webclient.session import claims_of, current_user
from webclient.settings import Settings
from webclient.web import TEMPLATES

router = APIRouter()
LOGIN_NONCE = "crm_login"


def safe_next(target: str | None) -> str:
    """Only a path of this site (never //other.example or a full URL)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def login_page(
    request: Request, settings: Settings, users: list[dict[str, Any]], error: str | None, status: int = 200
) -> HTMLResponse:
    nonce = request.cookies.get(LOGIN_NONCE) or secrets.token_urlsafe(24)
    response = TEMPLATES.TemplateResponse(
        request,
        "login.html",
        {
            "user": None,
            "csrf": nonce,
            "users": users,
            "error": error,
            "settings": settings,
            "next": safe_next(request.query_params.get("siguiente")),
        },
        status_code=status,
    )
    response.set_cookie(
        LOGIN_NONCE, nonce, httponly=True, samesite="lax", secure=settings.cookie_secure, path="/login"
    )
    return response


async def dev_users(request: Request, settings: Settings) -> list[dict[str, Any]]:
    if not settings.dev_auth:
        return []
    try:
        users = await Api(request.app.state.http, settings, None).get("attentions", "/dev/users")
    except ApiError:
        return []
    return users if isinstance(users, list) else []


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if current_user(request, settings) is not None:
        return RedirectResponse(safe_next(request.query_params.get("siguiente")), status_code=303)
    return login_page(request, settings, await dev_users(request, settings), None)


@router.post("/login")
async def login(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    form = await request.form()
    nonce = request.cookies.get(LOGIN_NONCE)
    if not settings.dev_auth:
        return login_page(request, settings, [], "El ingreso de desarrollo está desactivado.", 403)
    if not nonce or form.get("csrf") != nonce:
        return login_page(request, settings, await dev_users(request, settings), "El formulario venció.", 403)
    user_id = form.get("user_id")
    api = Api(request.app.state.http, settings, None)
    try:
        answer = await api.post(
            "attentions", "/dev/token", {"user_id": user_id if isinstance(user_id, str) else ""}
        )
    except ApiError as exc:
        message = "Usuario desconocido o inactivo." if exc.status == 422 else exc.error.message
        return login_page(request, settings, await dev_users(request, settings), message, 400)
    token = str(answer["access_token"])
    next_path = form.get("siguiente")
    response = start_session(settings, token, next_path if isinstance(next_path, str) else None)
    response.delete_cookie(LOGIN_NONCE, path="/login")
    return response


def start_session(settings: Settings, token: str, next_path: str | None) -> RedirectResponse:
    """Keep the bearer token in the session cookie (HttpOnly, SameSite=Lax) for its lifetime."""
    claims = claims_of(token) or {}
    lifetime = int(claims.get("exp", 0)) - int(claims.get("iat", 0)) if claims else 0
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        settings.session_cookie,
        token,
        max_age=max(60, lifetime) if lifetime else None,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(settings.session_cookie, path="/")
    return response
