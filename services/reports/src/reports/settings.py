"""Configuration of the reports service, from the environment."""

from __future__ import annotations

from crmkit.auth import AuthSettings
from crmkit.settings import KitSettings


class Settings(KitSettings, AuthSettings):
    service_name: str = "reports"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/crm_reports"
    http_port: int = 8104
    # Replays and bursts: bigger batches make one transaction do more (set-based handlers).
    consumer_max_records: int = 1000
