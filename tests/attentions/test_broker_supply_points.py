"""The suministros replica, fed through the real broker exactly as the FACTELEC sync feeds it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from crm_contracts.envelope import new_envelope
from crm_contracts.events.factelec import SupplyPointRetired, SupplyPointUpserted
from crm_contracts.registry import topic_for
from crmkit import metrics
from eventually import eventually

pytestmark = pytest.mark.integration
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def point(nic: str, holder: str, at: datetime, **fields: object) -> SupplyPointUpserted:
    values: dict[str, object] = {
        "nic": nic,
        "holder": holder,
        "address": f"Barrio El Centro, casa {nic}",
        "municipality": "Sonsonate",
        "department": "Sonsonate",
        "tariff": "T1-BT",
        "meter": f"M{nic}",
        "connection_status": "connected",
        "source_updated_at": at,
    }
    values.update(fields)
    return SupplyPointUpserted.model_validate(values)


async def applied(service) -> int:
    """Events of this test's topic the consumer has applied (the kit's counter; the topic carries the
    test's prefix, so other tests in this process do not count)."""
    topic = service.settings.topic(topic_for(SupplyPointUpserted).name)
    return int(metrics.CONSUMED.labels(topic, "applied")._value.get())


async def publish(service, events: list) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=service.settings.kafka_bootstrap_servers, linger_ms=5)
    await producer.start()
    try:
        for event in events:
            envelope = new_envelope(event, producer="factelec-sync")
            await producer.send(
                service.settings.topic(topic_for(event).name),
                envelope.model_dump_json().encode(),
                key=envelope.partition_key.encode(),
            )
        await producer.flush()
    finally:
        await producer.stop()


async def test_supply_points_replicate_in_batches_and_newest_update_wins(service_with):
    service = await service_with(parts={"worker"}, consumer_max_records=500)
    bulk = [point(f"{3_000_000 + i}", f"Titular {i}", T0) for i in range(3000)]
    changes = [
        point("3000001", "Titular Nuevo", T0 + timedelta(days=2), connection_status="suspended"),
        point("3000001", "Titular Viejo", T0 + timedelta(days=1)),  # older: arrives late, ignored
        point("3000002", "Titular 2", T0),  # the same version again: no change
        SupplyPointRetired(nic="3000003", reason="baja definitiva"),
        point("3000004", "Naive Timestamp", datetime(2026, 1, 3, 8, 0)),  # FACTELEC sends no zone: UTC
        point("3999999", "Marcador final", T0),
    ]
    await publish(service, bulk + changes)

    await eventually(
        lambda: applied(service),
        lambda n: n == len(bulk) + len(changes),
        timeout=60,
        what="every FACTELEC event applied",
    )
    assert await service.fetchval("SELECT count(*) FROM supply_points") == 3001
    # Upserts are idempotent by themselves (deduplicate=False): only the retirement left a dedupe record.
    assert await service.fetchval("SELECT count(*) FROM kit_processed_events") == 1
    rows = {
        r["nic"]: r
        for r in await service.fetch(
            "SELECT nic, holder, connection_status, source_updated_at, retired_at FROM supply_points "
            "WHERE nic IN ('3000001', '3000002', '3000003', '3000004')"
        )
    }
    assert rows["3000003"]["retired_at"] is not None
    assert (rows["3000001"]["holder"], rows["3000001"]["connection_status"]) == ("Titular Nuevo", "suspended")
    assert rows["3000004"]["source_updated_at"] == datetime(2026, 1, 3, 8, tzinfo=UTC)

    ana = service.as_("u-ana")
    found = (await ana.get("/supply-points", params={"q": "3000001"})).json()
    assert [p["holder"] for p in found["items"]] == ["Titular Nuevo"]
    by_holder = (await ana.get("/supply-points", params={"holder": "marcador"})).json()["items"]
    assert [p["nic"] for p in by_holder] == ["3999999"]
    by_address = (await ana.get("/supply-points", params={"address": "casa 3000010"})).json()["items"]
    assert [p["nic"] for p in by_address] == ["3000010"]
    # retired ones are hidden from the list by default but still readable (attentions point at them)
    assert (await ana.get("/supply-points", params={"nic": "3000003"})).json()["total"] == 0
    assert (await ana.get("/supply-points", params={"nic": "3000003", "include_retired": "true"})).json()[
        "total"
    ] == 1
    assert (await ana.get("/supply-points/3000003")).json()["retired_reason"] == "baja definitiva"

    # a newer update after the retirement brings the supply point back
    await publish(service, [point("3000003", "Reconectado", datetime.now(UTC) + timedelta(minutes=1))])
    await eventually(
        lambda: service.fetchval("SELECT retired_at IS NULL FROM supply_points WHERE nic = '3000003'"),
        what="3000003 back",
    )
    assert (await ana.get("/supply-points/3000003")).json()["holder"] == "Reconectado"


async def test_a_repeated_upsert_writes_nothing_and_an_equal_timestamp_with_new_content_applies(service_with):
    """The replica applies events without the kit's dedupe record, so a repeat must be a no-op by itself;
    FACTELEC's reconciliation republishes a status changed without a new update timestamp."""
    service = await service_with(parts={"worker"}, consumer_max_records=500)
    first = [point("3100001", "Titular Uno", T0), point("3100002", "Titular Dos", T0)]
    await publish(service, first)
    await eventually(lambda: applied(service), lambda n: n == 2, what="both applied")
    versions = {
        r["nic"]: (r["xmin"], r["replicated_at"])
        for r in await service.fetch("SELECT nic, xmin::text, replicated_at FROM supply_points")
    }

    await publish(
        service,
        [
            *first,  # redelivered as they were
            point(
                "3100002", "Titular Dos", T0, connection_status="disconnected"
            ),  # same timestamp, new state
            point("3100002", "Titular Dos", T0 - timedelta(days=1), connection_status="suspended"),  # older
            *first[:1],
        ],
    )
    await eventually(lambda: applied(service), lambda n: n == 7, what="the repeats applied")
    rows = {
        r["nic"]: r
        for r in await service.fetch(
            "SELECT nic, xmin::text, replicated_at, connection_status FROM supply_points"
        )
    }
    assert (rows["3100001"]["xmin"], rows["3100001"]["replicated_at"]) == versions["3100001"]
    assert rows["3100001"]["connection_status"] == "connected"
    assert rows["3100002"]["connection_status"] == "disconnected"
    assert await service.fetchval("SELECT count(*) FROM kit_processed_events") == 0
