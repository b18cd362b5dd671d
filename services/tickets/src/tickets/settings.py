"""Configuration of the tickets service, from the environment."""

from __future__ import annotations

from crmkit.auth import AuthSettings
from crmkit.settings import KitSettings
from pydantic import Field


class Settings(KitSettings, AuthSettings):
    service_name: str = "tickets"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/crm_tickets"
    http_port: int = 8102
    # Closures come in bursts; bigger batches make one transaction do more (set-based handlers).
    consumer_max_records: int = 1000
    # Two consumers in the worker: while one batch waits for PostgreSQL the next is decoded; every handler
    # locks the tickets it touches, so a request and its closure on two topics never race.
    consumer_concurrency: int = 2

    technical_areas: list[str] = Field(
        default_factory=lambda: ["Gerencia Técnica"],
        description="Responsible areas whose tickets may carry technical work orders.",
    )
    timezone: str = Field(
        default="America/El_Salvador", description="The utility's calendar: decides when a ticket is overdue."
    )
    company_name: str = Field(default="EDESAL", description="Printed on work orders.")
