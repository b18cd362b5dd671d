"""Wiring of the attentions service: settings, migrations, consumed and produced topics, API."""

from __future__ import annotations

from pathlib import Path

from crm_contracts.registry import TOPICS
from crmkit.runtime import ServiceDefinition

from attentions.api import build_api
from attentions.handlers import subscriptions
from attentions.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def define(settings: Settings | None = None) -> ServiceDefinition:
    settings = settings or Settings()
    return ServiceDefinition(
        name="attentions",
        settings=settings,
        migrations=[MIGRATIONS],
        subscriptions=subscriptions,
        build_api=build_api,
        produces=[t for t in TOPICS if t.producer == "attentions"],
    )
