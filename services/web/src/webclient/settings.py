"""Configuration of the web client, from the environment."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

GATEWAY = "http://127.0.0.1:8080/api"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "web"
    http_host: str = "127.0.0.1"
    http_port: int = 8106
    log_level: str = "INFO"

    # The services' APIs, called server-side with the user's token (by default through the gateway).
    attentions_api_url: str = f"{GATEWAY}/attentions"
    tickets_api_url: str = f"{GATEWAY}/tickets"
    reports_api_url: str = f"{GATEWAY}/reports"
    api_timeout_s: float = Field(default=30.0, gt=0)

    # Signs the CSRF tokens of the forms. Set a long random value in production (one for every replica).
    session_secret: str = Field(default="dev-only-session-secret-change-me", min_length=16)
    # Secure cookies need HTTPS: true in production, false for http://127.0.0.1 locally.
    cookie_secure: bool = False
    session_cookie: str = "crm_session"

    # Development sign-in: the user picks a development user and the attentions service's POST /dev/token
    # signs the token (only mounted there under DEV_AUTH). Never true in production.
    dev_auth: bool = False
    # Production sign-in: an OpenID Connect provider (authorization-code flow, see docs/web.md).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_redirect_uri: str | None = None
    oidc_scopes: str = "openid profile email"

    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    timezone: str = "America/El_Salvador"
    page_size: int = Field(default=20, ge=1, le=200)
    # Items due within this many days are "por vencer" (due soon) and stand out.
    due_soon_days: int = Field(default=3, ge=0)
