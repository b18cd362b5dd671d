"""Configuration of the factelec-sync service, from the environment."""

from __future__ import annotations

from crmkit.settings import KitSettings


class Settings(KitSettings):
    service_name: str = "factelec-sync"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/crm_factelec_sync"
    http_port: int = 8105
