"""Configuration of the attentions service, from the environment."""

from __future__ import annotations

from crmkit.settings import KitSettings


class Settings(KitSettings):
    service_name: str = "attentions"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/crm_attentions"
    http_port: int = 8101
