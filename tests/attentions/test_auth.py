"""Bearer JWT verification (crmkit.auth) on the attentions API, and the development token issuer."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from atn_support import AUDIENCE, ISSUER, problem, rules
from attentions.settings import Settings
from crmkit.auth import DevTokenIssuer, JwksCache, TokenVerifier
from crmkit.localstack import free_port
from fastapi import FastAPI

pytestmark = pytest.mark.integration


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u-admin",
        "name": "Mallory",
        "email": "m@x.test",
        "roles": ["admin"],
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return base


def unsigned(header: dict[str, object], payload: dict[str, object]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"


async def call(service, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await service.client(headers).get("/clients")


async def test_a_valid_token_is_accepted(service):
    assert (await call(service, service.token("u-ana"))).status_code == 200


async def test_requests_without_a_bearer_token_are_refused(service):
    body = problem(await call(service, None), 401)
    assert rules(body) == {("Authorization", "token_missing")}
    body = problem(await service.client({"Authorization": "Basic dTpw"}).get("/clients"), 401)
    assert rules(body) == {("Authorization", "token_missing")}
    assert rules(problem(await call(service, "not.a.jwt"), 401)) == {("Authorization", "malformed_token")}


async def test_alg_none_is_refused(service):
    for alg in ("none", "None", "NONE"):
        token = unsigned({"alg": alg, "typ": "JWT"}, claims()) + "."
        assert rules(problem(await call(service, token), 401)) == {("Authorization", "algorithm_not_allowed")}


async def test_hs256_signed_with_the_public_key_is_refused(service, issuer):
    """Algorithm confusion: the attacker uses the (public) RSA key as an HMAC secret."""
    signing_input = unsigned({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}, claims())
    for secret in (issuer.public_pem().encode(), issuer.public_pem().strip().encode()):
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{b64(signature)}"
        assert rules(problem(await call(service, token), 401)) == {("Authorization", "algorithm_not_allowed")}


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"ttl_s": -120}, "token_expired"),
        ({"iss": "https://evil.example/"}, "wrong_issuer"),
        ({"aud": "another-app"}, "wrong_audience"),
        ({"sub": None}, "missing_claim"),
        ({"exp": None}, "missing_claim"),
        ({"nbf": int(time.time()) + 3600}, "token_not_yet_valid"),
    ],
    ids=["expired", "wrong-issuer", "wrong-audience", "no-sub", "no-exp", "not-yet-valid"],
)
async def test_tokens_with_bad_claims_are_refused(service, issuer, overrides, rule):
    token = issuer.issue("u-admin", roles=["admin"], **overrides)
    assert rules(problem(await call(service, token), 401)) == {("Authorization", rule)}


async def test_a_token_signed_by_another_key_or_tampered_is_refused(service, issuer):
    stranger = DevTokenIssuer(issuer=ISSUER, audience=AUDIENCE)
    token = stranger.issue("u-admin", roles=["admin"])
    assert rules(problem(await call(service, token), 401)) == {("Authorization", "bad_signature")}

    header, _, signature = service.token("u-ana").split(".")
    forged = f"{header}.{b64(json.dumps(claims(sub='u-ana')).encode())}.{signature}"
    assert rules(problem(await call(service, forged), 401)) == {("Authorization", "bad_signature")}


async def test_a_missing_role_is_forbidden(service):
    body = problem(await service.as_("u-nobody", roles=[]).get("/clients"), 403)
    assert rules(body) == {("roles", "role_required")}
    body = problem(await service.as_("u-ana").post("/staff", json={}), 403)
    assert rules(body) == {("roles", "role_required")}


def test_symmetric_algorithms_cannot_be_configured():
    for algs in (["HS256"], ["RS256", "HS512"], ["none"]):
        with pytest.raises(ValueError, match="asymmetric"):
            TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=algs)


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_es256_tokens_verify_against_a_jwks_url_and_keys_rotate_in():
    first = DevTokenIssuer(issuer=ISSUER, audience=AUDIENCE, algorithm="ES256")
    second = DevTokenIssuer(issuer=ISSUER, audience=AUDIENCE, algorithm="ES256")
    document = {"keys": first.jwks()["keys"]}
    app = FastAPI()

    @app.get("/jwks.json")
    async def jwks() -> dict:
        return document

    async with serving(app) as base:
        verifier = TokenVerifier(
            issuer=ISSUER, audience=AUDIENCE, jwks=JwksCache(f"{base}/jwks.json", min_refresh_interval=0)
        )
        principal = await verifier.verify(first.issue("u-ana", name="Ana", roles=["agent"]))
        assert (principal.user_id, principal.name, principal.roles) == ("u-ana", "Ana", frozenset({"agent"}))
        document["keys"] = document["keys"] + second.jwks()["keys"]  # the provider rotates a key in
        assert (await verifier.verify(second.issue("u-beto"))).user_id == "u-beto"


async def test_dev_token_issuer_is_not_mounted_by_default(service):
    assert Settings().dev_auth is False
    assert (await service.client().post("/dev/token", json={"user_id": "u-admin"})).status_code == 404
    assert (await service.client().get("/dev/jwks.json")).status_code == 404


async def test_dev_auth_seeds_the_documented_users_and_signs_tokens_for_them(service_with):
    service = await service_with(seed=False, dev_auth=True, jwt_public_key=None)
    anonymous = service.client()
    users = (await anonymous.get("/dev/users")).json()
    assert {u["user_id"] for u in users} == {
        "u-admin",
        "u-gtecnico",
        "u-tecnico",
        "u-comercial",
        "u-atencion",
    }

    response = await anonymous.post("/dev/token", json={"user_id": "u-comercial"})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = service.client({"Authorization": f"Bearer {token}"})
    created = await me.post("/clients", json={"kind": "prospect", "name": "Nuevo Cliente"})
    assert created.status_code == 201 and created.json()["created_by"] == "u-comercial"
    # roles come from the staff directory: an agent is not an admin
    assert (await me.post("/staff/import", files={"file": ("s.csv", b"", "text/csv")})).status_code == 403

    body = problem(await anonymous.post("/dev/token", json={"user_id": "u-ghost"}), 422)
    assert rules(body) == {("user_id", "active_staff_member")}
    jwks = (await anonymous.get("/dev/jwks.json")).json()
    assert jwks["keys"][0]["kty"] == "RSA" and "d" not in jwks["keys"][0]


def test_dev_issuer_key_file_is_written_once_and_shared(tmp_path):
    settings = Settings(dev_auth=True, dev_auth_key_file=str(tmp_path / "keys" / "dev.pem"))
    first = DevTokenIssuer.from_settings(settings)
    second = DevTokenIssuer.from_settings(settings)
    assert first.public_pem() == second.public_pem() and first.kid == second.kid
    assert (tmp_path / "keys" / "dev.pem").stat().st_mode & 0o777 == 0o600
    assert list((tmp_path / "keys").iterdir()) == [tmp_path / "keys" / "dev.pem"]
    verifier = TokenVerifier(
        issuer=settings.jwt_issuer, audience=settings.jwt_audience, public_keys=[second.public_key]
    )
    assert asyncio.run(verifier.verify(first.issue("u-ana", roles=["agent"]))).user_id == "u-ana"
