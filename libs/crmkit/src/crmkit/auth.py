"""Bearer JWT verification for every service API, and a development token issuer.

Every request carries ``Authorization: Bearer <jwt>``. The token is accepted only when
- its header names an algorithm on the allow-list, which holds asymmetric algorithms only (RS256 and
  ES256 by default): ``alg=none`` and HS256 signed with the public key ("algorithm confusion") are refused
  before any key is touched;
- its signature verifies against a configured key: PEM public keys (``JWT_PUBLIC_KEY`` or
  ``JWT_PUBLIC_KEY_FILE``) and/or the keys of a JWKS document (``JWT_JWKS_URL``), picked by ``kid`` and
  checked to match the algorithm's key type;
- ``iss`` and ``aud`` are the configured ones, and ``exp``, ``iat`` and ``sub`` are present, ``exp`` in
  the future (``nbf``, when present, in the past), with a small leeway for clock skew.

A bad or missing token is a 401 problem, a missing role a 403 problem. Wiring in a service::

    verifier = TokenVerifier.from_settings(settings)
    install_auth(app, verifier)

    @router.get("/things")
    async def things(user: CurrentUser) -> ...: ...

    @router.post("/things", dependencies=[Depends(require_roles("admin"))])
    async def create(...): ...

``DevTokenIssuer`` signs tokens with a key pair generated at start (or read from a file). It exists for
the local stack and tests; a service mounts its HTTP face only when ``DEV_AUTH=true`` is set explicitly.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI, Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from crmkit.problems import Problem

log = logging.getLogger(__name__)

# Only asymmetric algorithms can ever be allowed: a symmetric one would let anyone who holds the public
# key (everyone) sign tokens.
ASYMMETRIC_ALGORITHMS: frozenset[str] = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_RSA_ALGS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
_EC_ALGS = {"ES256", "ES384", "ES512"}


class AuthSettings(BaseSettings):
    """Settings of token verification; mix into a service's settings class beside ``KitSettings``."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    jwt_issuer: str = Field(default="edesal-crm", description="Required `iss` of every token.")
    jwt_audience: str = Field(default="edesal-crm", description="Required `aud` of every token.")
    jwt_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256"], description="Allowed algorithms (asymmetric only)."
    )
    jwt_public_key: str | None = Field(default=None, description="PEM public key(s) that sign tokens.")
    jwt_public_key_file: str | None = Field(default=None, description="File with a PEM public key.")
    jwt_jwks_url: str | None = Field(default=None, description="JWKS document of the identity provider.")
    jwt_jwks_cache_s: float = 300.0
    jwt_leeway_s: float = 30.0
    # Development only: mount the token issuer (POST /dev/token). Never set in production configuration.
    dev_auth: bool = False
    dev_auth_key_file: str | None = Field(
        default=None, description="PEM private key of the dev issuer; generated (and written) when missing."
    )
    dev_auth_algorithm: str = "RS256"
    dev_token_ttl_s: int = 8 * 3600


@dataclass(frozen=True)
class Principal:
    """Who is calling, from the verified token."""

    user_id: str
    name: str
    email: str
    roles: frozenset[str] = frozenset()
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has_any(self, roles: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class InvalidToken(Exception):
    """The token cannot be trusted. ``rule`` says why (shown to the caller; never the key material)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def unauthorized(rule: str, message: str) -> Problem:
    return Problem(
        401,
        "Unauthorized",
        message,
        errors=[{"field": "Authorization", "rule": rule, "message": message}],
    )


def forbidden(roles: Sequence[str]) -> Problem:
    needed = ", ".join(roles)
    message = f"this action needs one of the roles: {needed}"
    return Problem(
        403, "Forbidden", message, errors=[{"field": "roles", "rule": "role_required", "message": message}]
    )


# -- keys ----------------------------------------------------------------------------------------------


def load_public_keys(pem_text: str) -> list[Any]:
    """Every PEM public key (or certificate) in a text."""
    keys: list[Any] = []
    marker = "-----BEGIN "
    blocks = [marker + part for part in pem_text.split(marker)[1:]]
    for block in blocks:
        data = block.encode()
        if "CERTIFICATE" in block.split("\n", 1)[0]:
            from cryptography import x509

            keys.append(x509.load_pem_x509_certificate(data).public_key())
        else:
            keys.append(serialization.load_pem_public_key(data))
    return keys


def _key_fits(key: Any, alg: str) -> bool:
    if alg in _RSA_ALGS:
        return isinstance(key, rsa.RSAPublicKey)
    if alg in _EC_ALGS:
        return isinstance(key, ec.EllipticCurvePublicKey)
    return not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)


class JwksCache:
    """The keys of a JWKS URL, fetched on demand, kept ``ttl`` seconds, refreshed early on an unknown kid."""

    def __init__(self, url: str, ttl: float = 300.0, min_refresh_interval: float = 30.0) -> None:
        self.url = url
        self.ttl = ttl
        self.min_refresh_interval = min_refresh_interval
        self._keys: dict[str | None, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def _fetch(self) -> None:
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(self.url)
            response.raise_for_status()
            document = response.json()
        keys: dict[str | None, Any] = {}
        for jwk in document.get("keys", []):
            if jwk.get("use", "sig") != "sig":
                continue
            try:
                parsed = jwt.PyJWK(jwk)
            except jwt.PyJWKError:
                continue
            keys[jwk.get("kid")] = parsed.key
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def keys_for(self, kid: str | None) -> list[Any]:
        age = time.monotonic() - self._fetched_at
        stale = age > self.ttl
        unknown = kid is not None and kid not in self._keys and age > self.min_refresh_interval
        if stale or unknown:
            async with self._lock:
                age = time.monotonic() - self._fetched_at
                if age > self.ttl or (kid not in self._keys and age > self.min_refresh_interval):
                    try:
                        await self._fetch()
                    except (httpx.HTTPError, ValueError) as exc:
                        log.warning("JWKS %s unavailable: %s", self.url, exc)
                        if not self._keys:
                            raise InvalidToken("keys_unavailable", "the signing keys cannot be read") from exc
        if kid is not None:
            return [self._keys[kid]] if kid in self._keys else []
        return list(self._keys.values())


# -- verification --------------------------------------------------------------------------------------


class TokenVerifier:
    """Verifies bearer tokens. Verified tokens are cached until they expire (a bounded cache)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str] = ("RS256", "ES256"),
        public_keys: Sequence[Any] = (),
        jwks: JwksCache | None = None,
        leeway_s: float = 30.0,
        cache_size: int = 10_000,
    ) -> None:
        unsafe = set(algorithms) - ASYMMETRIC_ALGORITHMS
        if unsafe:
            raise ValueError(f"only asymmetric JWT algorithms may be allowed, not {sorted(unsafe)}")
        if not algorithms:
            raise ValueError("at least one JWT algorithm must be allowed")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = frozenset(algorithms)
        self.public_keys = list(public_keys)
        self.jwks = jwks
        self.leeway_s = leeway_s
        self.cache_size = cache_size
        self._cache: dict[str, tuple[Principal, float]] = {}

    @classmethod
    def from_settings(cls, settings: AuthSettings, extra_keys: Sequence[Any] = ()) -> TokenVerifier:
        keys: list[Any] = list(extra_keys)
        if settings.jwt_public_key:
            keys += load_public_keys(settings.jwt_public_key)
        if settings.jwt_public_key_file:
            keys += load_public_keys(Path(settings.jwt_public_key_file).read_text())
        if settings.dev_auth:
            # Development only: trust the dev issuer's key, shared by every service of the local stack
            # through DEV_AUTH_KEY_FILE (created by whichever service starts first).
            if not settings.dev_auth_key_file:
                log.warning(
                    "DEV_AUTH is set without DEV_AUTH_KEY_FILE: only this process's dev tokens verify"
                )
            keys.append(DevTokenIssuer.from_settings(settings).public_key)
        jwks = JwksCache(settings.jwt_jwks_url, settings.jwt_jwks_cache_s) if settings.jwt_jwks_url else None
        if not keys and jwks is None:
            log.warning("no JWT key configured: every request will be refused with 401")
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithms=settings.jwt_algorithms,
            public_keys=keys,
            jwks=jwks,
            leeway_s=settings.jwt_leeway_s,
        )

    def add_key(self, key: Any) -> None:
        self.public_keys.append(key)

    async def verify(self, token: str) -> Principal:
        cached = self._cache.get(token)
        if cached is not None:
            principal, expires = cached
            if time.time() < expires + self.leeway_s:
                return principal
            self._cache.pop(token, None)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed_token", "the bearer token is not a well-formed JWT") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken("algorithm_not_allowed", f"tokens signed with {alg!r} are not accepted")
        kid = header.get("kid")
        candidates = [k for k in self.public_keys if _key_fits(k, alg)]
        if self.jwks is not None:
            candidates += [
                k
                for k in await self.jwks.keys_for(kid if isinstance(kid, str) else None)
                if _key_fits(k, alg)
            ]
        if not candidates:
            raise InvalidToken("unknown_key", "no trusted key can verify this token")
        claims: dict[str, Any] | None = None
        last_error: Exception | None = None
        for key in candidates:
            try:
                claims = jwt.decode(
                    token,
                    key=key,
                    algorithms=[alg],
                    audience=self.audience,
                    issuer=self.issuer,
                    leeway=self.leeway_s,
                    options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                )
                break
            except jwt.InvalidSignatureError as exc:
                last_error = exc
                continue
            except jwt.ExpiredSignatureError as exc:
                raise InvalidToken("token_expired", "the token has expired") from exc
            except jwt.InvalidIssuerError as exc:
                raise InvalidToken("wrong_issuer", "the token was not issued by the trusted issuer") from exc
            except jwt.InvalidAudienceError as exc:
                raise InvalidToken("wrong_audience", "the token is not meant for this audience") from exc
            except jwt.MissingRequiredClaimError as exc:
                raise InvalidToken("missing_claim", f"the token lacks the `{exc.claim}` claim") from exc
            except jwt.ImmatureSignatureError as exc:
                raise InvalidToken("token_not_yet_valid", "the token is not valid yet") from exc
            except jwt.PyJWTError as exc:
                raise InvalidToken("invalid_token", f"the token is invalid: {type(exc).__name__}") from exc
        if claims is None:
            raise InvalidToken("bad_signature", "the token signature does not verify") from last_error
        principal = _principal(claims)
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[token] = (principal, float(claims["exp"]))
        return principal


def _principal(claims: dict[str, Any]) -> Principal:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise InvalidToken("missing_claim", "the token lacks a usable `sub` claim")
    roles = claims.get("roles", [])
    if isinstance(roles, str):
        roles = roles.split()
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken("invalid_claim", "the `roles` claim must be a list of strings")
    return Principal(
        user_id=sub,
        name=str(claims.get("name") or sub),
        email=str(claims.get("email") or ""),
        roles=frozenset(roles),
        claims=claims,
    )


# -- FastAPI -------------------------------------------------------------------------------------------


def install_auth(app: FastAPI, verifier: TokenVerifier) -> None:
    app.state.token_verifier = verifier


async def authenticated(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, or a 401 problem."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        raise RuntimeError("install_auth(app, verifier) was not called for this app")
    header = request.headers.get("authorization")
    if not header:
        raise unauthorized("token_missing", "a bearer token is required")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("token_missing", "the Authorization header must be `Bearer <token>`")
    try:
        principal = await verifier.verify(token.strip())
    except InvalidToken as exc:
        raise unauthorized(exc.rule, exc.message) from None
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(authenticated)]


def require_roles(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """FastAPI dependency: the verified caller when they hold one of ``roles``, else a 403 problem."""

    async def check(user: CurrentUser) -> Principal:
        if not user.has_any(roles):
            raise forbidden(roles)
        return user

    return check


# -- development issuer --------------------------------------------------------------------------------


def _publish_key_file(path: Path, pem: bytes) -> bool:
    """Write the key file whole and only if absent (several services of the local stack start at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_bytes(pem)
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # atomic, and fails when the file exists
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


class DevTokenIssuer:
    """Signs tokens for local development and tests. Never trust it in production."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithm: str = "RS256",
        private_key: Any | None = None,
        ttl_s: int = 8 * 3600,
    ) -> None:
        if algorithm not in _RSA_ALGS | _EC_ALGS:
            raise ValueError(f"the dev issuer signs with RSA or EC algorithms, not {algorithm}")
        self.issuer = issuer
        self.audience = audience
        self.algorithm = algorithm
        self.ttl_s = ttl_s
        if private_key is None:
            private_key = (
                ec.generate_private_key(ec.SECP256R1())
                if algorithm in _EC_ALGS
                else rsa.generate_private_key(public_exponent=65537, key_size=2048)
            )
        self.private_key = private_key
        # Stable for a key: every process that loads the same key file names it the same way.
        der = self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = f"dev-{hashlib.sha256(der).hexdigest()[:16]}"

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> DevTokenIssuer:
        key: Any | None = None
        path = Path(settings.dev_auth_key_file) if settings.dev_auth_key_file else None
        if path is not None and path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        issuer = cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithm=settings.dev_auth_algorithm,
            private_key=key,
            ttl_s=settings.dev_token_ttl_s,
        )
        if path is not None and key is None and not _publish_key_file(path, issuer.private_pem()):
            return cls.from_settings(settings)  # another process wrote it first: use theirs
        return issuer

    @property
    def public_key(self) -> Any:
        return self.private_key.public_key()

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def private_pem(self) -> bytes:
        return bytes(
            self.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def jwks(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        jwk = json.loads(algorithm.to_jwk(self.public_key))
        jwk.update({"kid": self.kid, "use": "sig", "alg": self.algorithm})
        return {"keys": [jwk]}

    def issue(
        self,
        user_id: str,
        *,
        name: str = "",
        email: str = "",
        roles: Sequence[str] = (),
        ttl_s: int | None = None,
        **overrides: Any,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "name": name or user_id,
            "email": email,
            "roles": list(roles),
            "iat": now,
            "exp": now + (self.ttl_s if ttl_s is None else ttl_s),
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm, headers={"kid": self.kid})
