"""Wiring of the attentions service: settings, migrations, consumed and produced topics, API."""

from __future__ import annotations

from pathlib import Path

from crm_contracts.registry import TOPICS
from crmkit.runtime import ServiceDefinition, ServiceRuntime

from attentions.api import build_api
from attentions.handlers import subscriptions
from attentions.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


async def seed_dev_users(runtime: ServiceRuntime) -> None:
    """With DEV_AUTH=true only: put the documented development users in the staff directory if missing."""
    settings = runtime.settings
    if not (isinstance(settings, Settings) and settings.dev_auth and settings.dev_seed_users):
        return
    from attentions.api.staff import upsert_members
    from attentions.devusers import DEV_USERS
    from attentions.store import staff as staff_store

    async with runtime.pool.acquire() as conn, conn.transaction():
        existing = await staff_store.get_many(conn, [u.user_id for u in DEV_USERS])
        missing = [u for u in DEV_USERS if u.user_id not in existing]
        if missing:
            await upsert_members(conn, runtime.outbox, missing, "dev-seed")


def define(settings: Settings | None = None) -> ServiceDefinition:
    settings = settings or Settings()
    return ServiceDefinition(
        name="attentions",
        settings=settings,
        migrations=[MIGRATIONS],
        subscriptions=subscriptions,
        build_api=build_api,
        produces=[t for t in TOPICS if t.producer == "attentions"],
        on_start=seed_dev_users,
    )
