"""Development token issuer: mounted ONLY when DEV_AUTH=true (see api.build_api). Never in production.

- ``POST /dev/token {"user_id": "u-comercial"}``: a signed token for an active staff member, with the
  roles of the staff directory;
- ``GET /dev/jwks.json``: the issuer's public key, for the other services of the local stack
  (JWT_JWKS_URL=http://127.0.0.1:8101/dev/jwks.json);
- ``GET /dev/users``: the active staff members one can sign in as.
"""

from __future__ import annotations

from typing import Any

from crmkit.auth import DevTokenIssuer
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from attentions.domain.errors import RuleBroken
from attentions.store import staff as staff_store

router = APIRouter(prefix="/dev", tags=["development only"])


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=64, examples=["u-comercial"])


def _issuer(request: Request) -> DevTokenIssuer:
    issuer: DevTokenIssuer = request.app.state.dev_issuer
    return issuer


@router.post("/token")
async def issue_token(request: Request, body: TokenRequest) -> dict[str, Any]:
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        member = await staff_store.get(conn, body.user_id)
    if member is None or not member["active"]:
        raise RuleBroken.one(
            "user_id", "active_staff_member", f"{body.user_id!r} is not an active staff member"
        )
    issuer = _issuer(request)
    token = issuer.issue(member["user_id"], name=member["name"], email=member["email"], roles=member["roles"])
    return {"access_token": token, "token_type": "Bearer", "expires_in": issuer.ttl_s}


@router.get("/jwks.json")
async def jwks(request: Request) -> dict[str, Any]:
    return _issuer(request).jwks()


@router.get("/users")
async def users(request: Request) -> list[dict[str, Any]]:
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        members, _ = await staff_store.search(
            conn, q=None, area=None, role=None, active=True, limit=200, offset=0
        )
    return [{k: m[k] for k in ("user_id", "name", "email", "area", "roles")} for m in members]
