"""Wiring of the factelec-sync service: settings, migrations, consumed and produced topics, API."""

from __future__ import annotations

from pathlib import Path

from crm_contracts.registry import TOPICS
from crmkit.runtime import ServiceDefinition

from factelec_sync.api import build_api
from factelec_sync.handlers import subscriptions
from factelec_sync.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def define(settings: Settings | None = None) -> ServiceDefinition:
    settings = settings or Settings()
    return ServiceDefinition(
        name="factelec-sync",
        settings=settings,
        migrations=[MIGRATIONS],
        subscriptions=subscriptions,
        build_api=build_api,
        produces=[t for t in TOPICS if t.producer == "factelec-sync"],
    )
