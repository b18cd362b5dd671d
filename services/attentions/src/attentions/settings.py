"""Configuration of the attentions service, from the environment."""

from __future__ import annotations

from crmkit.auth import AuthSettings
from crmkit.settings import KitSettings
from pydantic import Field


class Settings(KitSettings, AuthSettings):
    service_name: str = "attentions"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/crm_attentions"
    http_port: int = 8101

    attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest PDF attachment accepted, in bytes."
    )
    timezone: str = Field(
        default="America/El_Salvador", description="Local time zone: the year of ATN/EVT/TCK codes."
    )
    # With DEV_AUTH=true the documented development users (attentions.devusers) are put in the staff
    # directory at start, and POST /dev/token signs tokens for them.
    dev_seed_users: bool = True
