"""Two tiny services that exercise the messaging kit: "pinger" writes pings through the outbox, "ponger"
consumes them and records one effect row per event. Run as a process with
``python -m kit.pingpong ponger run`` (PYTHONPATH=tests) for the tests that kill it.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from crm_contracts.envelope import EventModel
from crm_contracts.registry import Topic
from crmkit.consumer import Delivery, PoisonMessage, Subscriptions
from crmkit.db import Connection
from crmkit.http import create_app
from crmkit.outbox import Outbox
from crmkit.runtime import ServiceDefinition, ServiceRuntime
from crmkit.settings import KitSettings
from fastapi import FastAPI
from pydantic import Field

HERE = Path(__file__).parent
# Pings whose note is here make the handler fail, like a bug; a test "deploys the fix" by emptying it.
BROKEN_NOTES: set[str] = {"fail"}


class Pinged(EventModel):
    event_type = "kit_test.pinged"

    aggregate: str
    seq: int = Field(ge=0)
    note: str = ""

    def partition_key(self) -> str:
        return self.aggregate


PINGS = Topic(
    name="kit-test.pings.v1",
    key="aggregate",
    partitions=3,
    producer="pinger",
    consumers=("ponger",),
    events=(Pinged,),
    description="Test pings.",
)
REGISTRY = (PINGS,)


async def write_ping(conn: Connection, outbox: Outbox, aggregate: str, seq: int, note: str = "") -> None:
    """A state change and the event it causes, in one transaction."""
    async with conn.transaction():
        await conn.execute("INSERT INTO pings (aggregate, seq) VALUES ($1, $2)", aggregate, seq)
        await outbox.add(conn, Pinged(aggregate=aggregate, seq=seq, note=note))


def ponger_subscriptions(batch: bool = False) -> Subscriptions:
    subs = Subscriptions()
    if batch:

        @subs.on_batch(Pinged)
        async def record_effects(deliveries: list[Delivery[Pinged]]) -> None:
            for delivery in deliveries:
                if delivery.event.note in BROKEN_NOTES:
                    raise RuntimeError("handler bug for this ping")
            await deliveries[0].conn.executemany(
                "INSERT INTO effects (event_id, aggregate, seq) VALUES ($1, $2, $3)",
                [(d.envelope.event_id, d.event.aggregate, d.event.seq) for d in deliveries],
            )

        return subs

    @subs.on(Pinged)
    async def record_effect(delivery: Delivery[Pinged]) -> None:
        event = delivery.event
        if event.note == "reject":
            raise PoisonMessage("this ping is never acceptable")
        if event.note in BROKEN_NOTES:
            raise RuntimeError("handler bug for this ping")
        await delivery.conn.execute(
            "INSERT INTO effects (event_id, aggregate, seq) VALUES ($1, $2, $3)",
            delivery.envelope.event_id,
            event.aggregate,
            event.seq,
        )

    return subs


def pinger(settings: KitSettings) -> ServiceDefinition:
    return ServiceDefinition(
        name="pinger",
        settings=settings.model_copy(update={"service_name": "pinger"}),
        migrations=[HERE / "pinger_migrations"],
        registry=REGISTRY,
        produces=REGISTRY,
    )


def _crash_after_commit(runtime: ServiceRuntime) -> None:
    """Test hook: SIGKILL this process after a batch's effect is committed, before its offsets are."""
    marker = os.environ.get("PONGER_CRASH_MARKER")
    if not marker or runtime.worker is None or runtime.worker.consumer is None:
        return
    consumer = runtime.worker.consumer
    original = consumer.process_batch

    async def process_then_die(*args: Any, **kwargs: Any) -> Any:
        outcome = await original(*args, **kwargs)
        if outcome.applied and not os.path.exists(marker):
            Path(marker).write_text(str(outcome.applied))
            os.kill(os.getpid(), signal.SIGKILL)
        return outcome

    consumer.process_batch = process_then_die  # type: ignore[method-assign,unused-ignore]


def ponger(settings: KitSettings, batch: bool = False) -> ServiceDefinition:
    def build_api(runtime: ServiceRuntime) -> FastAPI:
        return create_app(title="ponger", readiness={"database": runtime.check_database})

    return ServiceDefinition(
        name="ponger",
        settings=settings.model_copy(update={"service_name": "ponger"}),
        migrations=[HERE / "ponger_migrations"],
        subscriptions=ponger_subscriptions(batch),
        registry=REGISTRY,
        build_api=build_api,
        on_start=_crash_after_commit,
    )


if __name__ == "__main__":
    from crmkit.entrypoint import service_main

    which = sys.argv[1]
    factory = {"pinger": pinger, "ponger": ponger}[which]
    sys.exit(service_main(lambda: factory(KitSettings()), sys.argv[2:]))
