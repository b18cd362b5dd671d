"""The signed-in user's session: their bearer token in an HttpOnly, SameSite=Lax cookie, and CSRF tokens.

The token itself is signed by the identity provider and verified by every service on every call; the web
client only reads its claims (name, roles) to decide what to show, never to decide what is allowed. The
CSRF token of the forms is an HMAC of the session token under SESSION_SECRET: a page of another site can
neither read it nor compute it, and it changes with every sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from webclient.settings import Settings

TECHNICAL_MANAGER = "technical_manager"
ADMIN = "admin"


@dataclass(frozen=True)
class User:
    user_id: str
    name: str
    roles: frozenset[str]
    token: str

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def is_technical_manager(self) -> bool:
        return TECHNICAL_MANAGER in self.roles


def claims_of(token: str) -> dict[str, Any] | None:
    """The JWT's claims, unverified (the services verify); None when it is not a JWT or has expired."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
        return None
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and exp < time.time():
        return None
    return claims


def current_user(request: Request, settings: Settings) -> User | None:
    token = request.cookies.get(settings.session_cookie)
    if not token:
        return None
    claims = claims_of(token)
    if claims is None:
        return None
    roles = claims.get("roles") or []
    if isinstance(roles, str):
        roles = roles.split()
    return User(claims["sub"], str(claims.get("name") or claims["sub"]), frozenset(map(str, roles)), token)


def csrf_token(settings: Settings, session_token: str) -> str:
    mac = hmac.new(settings.session_secret.encode(), session_token.encode(), hashlib.sha256)
    return mac.hexdigest()[:40]


def csrf_ok(settings: Settings, session_token: str, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_token(settings, session_token), submitted or "")
