"""Wiring of the reports service: settings, migrations, consumed and produced topics, API."""

from __future__ import annotations

from pathlib import Path

from crm_contracts.registry import TOPICS
from crmkit.runtime import ServiceDefinition

from reports.api import build_api
from reports.handlers import subscriptions
from reports.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def define(settings: Settings | None = None) -> ServiceDefinition:
    settings = settings or Settings()
    return ServiceDefinition(
        name="reports",
        settings=settings,
        migrations=[MIGRATIONS],
        subscriptions=subscriptions,
        build_api=build_api,
        produces=[t for t in TOPICS if t.producer == "reports"],
    )
