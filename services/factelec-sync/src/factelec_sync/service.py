"""Wiring of the factelec-sync service: settings, migrations, produced topic, API, scheduled sync."""

from __future__ import annotations

from pathlib import Path

from crm_contracts.registry import TOPICS, Topic
from crmkit.runtime import ServiceDefinition, ServiceRuntime

from factelec_sync.api import build_api
from factelec_sync.handlers import subscriptions
from factelec_sync.scheduler import start_scheduler
from factelec_sync.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def produced_topics() -> list[Topic]:
    return [t for t in TOPICS if t.producer == "factelec-sync"]


def _on_start(runtime: ServiceRuntime) -> None:
    # The scheduled sync belongs to the worker part (`run` or `worker`), not to `api` or `relay` alone.
    if runtime.worker is not None:
        start_scheduler(runtime)


def define(settings: Settings | None = None) -> ServiceDefinition:
    settings = settings or Settings()
    return ServiceDefinition(
        name="factelec-sync",
        settings=settings,
        migrations=[MIGRATIONS],
        subscriptions=subscriptions,
        build_api=build_api,
        produces=produced_topics(),
        on_start=_on_start,
    )
