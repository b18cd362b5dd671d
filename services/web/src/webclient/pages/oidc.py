"""Production sign-in: OpenID Connect authorization-code flow with PKCE (RFC 7636).

``/login/oidc`` sends the browser to the provider's authorization endpoint (found by discovery, cached) with
a random ``state`` and a PKCE challenge kept in a short-lived HttpOnly cookie; ``/login/callback`` checks the
state, exchanges the code at the token endpoint and keeps the provider's access token in the session cookie,
as the development sign-in does. The services verify that token (JWT_ISSUER, JWT_AUDIENCE, JWT_JWKS_URL):
the provider must issue JWT access tokens for the CRM's audience, with the ``roles`` claim.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from webclient.pages.auth import login_page, safe_next, start_session
from webclient.settings import Settings

router = APIRouter()
FLOW_COOKIE = "crm_oidc"
FLOW_TTL_S = 600


def configured(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id and settings.oidc_redirect_uri)


async def discovery(request: Request, settings: Settings) -> dict[str, Any]:
    cached: dict[str, Any] | None = getattr(request.app.state, "oidc_discovery", None)
    if cached is None:
        url = f"{str(settings.oidc_issuer).rstrip('/')}/.well-known/openid-configuration"
        response = await request.app.state.http.get(url)
        response.raise_for_status()
        cached = dict(response.json())
        request.app.state.oidc_discovery = cached
    return cached


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def unavailable(request: Request, settings: Settings, message: str) -> Response:
    return login_page(request, settings, [], message, 502)


@router.get("/login/oidc")
async def start(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not configured(settings):
        return login_page(
            request, settings, [], "El ingreso con la cuenta de EDESAL no está configurado.", 404
        )
    try:
        endpoints = await discovery(request, settings)
    except (httpx.HTTPError, ValueError):
        return unavailable(request, settings, "El proveedor de identidad no responde; intente de nuevo.")
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": settings.oidc_client_id,
        "redirect_uri": settings.oidc_redirect_uri,
        "scope": settings.oidc_scopes,
        "state": state,
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
    }
    target = f"{endpoints['authorization_endpoint']}?{httpx.QueryParams(params)}"
    response = RedirectResponse(target, status_code=303)
    flow = {"state": state, "verifier": verifier, "next": safe_next(request.query_params.get("siguiente"))}
    response.set_cookie(FLOW_COOKIE, json.dumps(flow), max_age=FLOW_TTL_S, httponly=True, samesite="lax",
                        secure=settings.cookie_secure, path="/login")  # fmt: skip
    return response


@router.get("/login/callback")
async def callback(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    try:
        flow = json.loads(request.cookies.get(FLOW_COOKIE, ""))
    except ValueError:
        flow = None
    state = request.query_params.get("state")
    code = request.query_params.get("code")
    if (
        not configured(settings)
        or not isinstance(flow, dict)
        or not state
        or state != flow.get("state")
        or not code
    ):
        return login_page(request, settings, [], "El ingreso no se pudo completar; intente de nuevo.", 400)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": str(settings.oidc_redirect_uri),
        "client_id": str(settings.oidc_client_id),
        "code_verifier": str(flow.get("verifier")),
    }
    if settings.oidc_client_secret:
        form["client_secret"] = settings.oidc_client_secret
    try:
        endpoints = await discovery(request, settings)
        answer = await request.app.state.http.post(endpoints["token_endpoint"], data=form)
        answer.raise_for_status()
        token = str(answer.json()["access_token"])
    except (httpx.HTTPError, ValueError, KeyError):
        return unavailable(
            request, settings, "El proveedor de identidad rechazó el ingreso; intente de nuevo."
        )
    response = start_session(settings, token, str(flow.get("next") or "/"))
    response.delete_cookie(FLOW_COOKIE, path="/login")
    return response
