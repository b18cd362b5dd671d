"""Configuration of the tickets service, from the environment."""

from __future__ import annotations

from crmkit.settings import KitSettings


class Settings(KitSettings):
    service_name: str = "tickets"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/crm_tickets"
    http_port: int = 8102
