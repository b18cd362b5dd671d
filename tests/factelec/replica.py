"""A minimal consumer of factelec.supply-points.v1 for the tests and the benchmark: a kit service whose
``on_batch`` handlers keep a replica table with one set-based statement per batch. (The real replica is
the attentions service's; this one only shows what arrives.)

Run as a process with ``python -m factelec.replica run`` (PYTHONPATH=tests), settings from the
environment (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, TOPIC_PREFIX, SERVICE_NAME, CONSUMER_MAX_RECORDS...).
"""

from __future__ import annotations

import sys
from pathlib import Path

from crm_contracts.events.factelec import SupplyPointRetired, SupplyPointUpserted
from crmkit.consumer import Delivery, Subscriptions
from crmkit.http import create_app
from crmkit.runtime import ServiceDefinition, ServiceRuntime
from crmkit.settings import KitSettings
from fastapi import FastAPI

HERE = Path(__file__).parent
MIGRATIONS = HERE / "replica_migrations"

# Newest source_updated_at wins; an equal one applies again (a status fixed by reconciliation keeps the
# row's timestamp), which also makes a repeated event harmless.
UPSERT = """
INSERT INTO supply_points AS sp (nic, holder, address, municipality, department, tariff, meter,
                                 connection_status, source_updated_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::timestamptz[])
ON CONFLICT (nic) DO UPDATE SET holder = EXCLUDED.holder, address = EXCLUDED.address,
    municipality = EXCLUDED.municipality, department = EXCLUDED.department, tariff = EXCLUDED.tariff,
    meter = EXCLUDED.meter, connection_status = EXCLUDED.connection_status,
    source_updated_at = EXCLUDED.source_updated_at, retired_at = NULL, retired_reason = NULL,
    replicated_at = now()
WHERE sp.source_updated_at <= EXCLUDED.source_updated_at
"""

RETIRE = """
UPDATE supply_points AS sp SET retired_at = now(), retired_reason = r.reason, replicated_at = now()
FROM unnest($1::text[], $2::text[]) AS r(nic, reason)
WHERE sp.nic = r.nic
"""


def subscriptions() -> Subscriptions:
    subs = Subscriptions()

    @subs.on_batch(SupplyPointUpserted)
    async def upsert(deliveries: list[Delivery[SupplyPointUpserted]]) -> None:
        # One row per NIC in a statement (ON CONFLICT cannot touch a row twice): the newest wins.
        latest: dict[str, SupplyPointUpserted] = {}
        for delivery in deliveries:
            event = delivery.event
            seen = latest.get(event.nic)
            if seen is None or seen.source_updated_at <= event.source_updated_at:
                latest[event.nic] = event
        rows = list(latest.values())
        await deliveries[0].conn.execute(
            UPSERT,
            [e.nic for e in rows],
            [e.holder for e in rows],
            [e.address for e in rows],
            [e.municipality for e in rows],
            [e.department for e in rows],
            [e.tariff for e in rows],
            [e.meter for e in rows],
            [e.connection_status for e in rows],
            [e.source_updated_at for e in rows],
        )

    @subs.on_batch(SupplyPointRetired)
    async def retire(deliveries: list[Delivery[SupplyPointRetired]]) -> None:
        reasons = {d.event.nic: d.event.reason for d in deliveries}
        await deliveries[0].conn.execute(RETIRE, list(reasons), list(reasons.values()))

    return subs


def replica(settings: KitSettings, name: str = "replica") -> ServiceDefinition:
    def build_api(runtime: ServiceRuntime) -> FastAPI:
        return create_app(title="supply point replica (test)", readiness={"database": runtime.check_database})

    return ServiceDefinition(
        name=name,
        settings=settings.model_copy(update={"service_name": name}),
        migrations=[MIGRATIONS],
        subscriptions=subscriptions(),
        build_api=build_api,
    )


if __name__ == "__main__":
    from crmkit.entrypoint import service_main

    base = KitSettings()
    sys.exit(service_main(lambda: replica(base, base.service_name), sys.argv[1:]))
