"""Events the attentions service consumes, and what each one does.

- ``factelec.supply_point.upserted`` / ``.retired`` (topic factelec.supply-points.v1): the suministros
  replica. Batch handlers: one COPY and one statement per batch, newest ``source_updated_at`` wins, so an
  older row that arrives late changes nothing and a repeated one writes nothing. The FACTELEC sync pushes a
  million rows at a full sync. The upsert is idempotent by itself (it carries the whole state of its NIC,
  guarded by the source's timestamp), so its events are consumed with ``deduplicate=False``: no
  ``kit_processed_events`` row per supply point (that insert cost as much as the upsert). Retirements keep
  the kit's dedupe: a retirement applied again after a newer upsert would retire the NIC anew.
- ``tickets.ticket.closed`` / ``.reopened`` (topic tickets.tickets.v1): the status of the tickets accepted
  on events, which decides whether an event may close. A change older than the one applied is ignored; a
  reopen under an event that is closed already is recorded (``late_reopened_at``) but never reopens the
  ticket: no ticket is ever open under a closed event.

The kit applies each batch in one transaction and (except for the upserts above) records the event ids it
applied in the same transaction, so a redelivered event has no second effect.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from crm_contracts.events.factelec import SupplyPointRetired, SupplyPointUpserted
from crm_contracts.events.tickets import TicketClosed, TicketReopened
from crmkit.consumer import Delivery, Subscriptions
from crmkit.db import Connection

from attentions.domain import closure
from attentions.store import audit
from attentions.store import events as event_store
from attentions.store import supply_points as supply_point_store

log = logging.getLogger(__name__)
subscriptions = Subscriptions()


def _aware(moment: datetime) -> datetime:
    """FACTELEC's timestamps may come without a zone; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@subscriptions.on_batch(SupplyPointUpserted, deduplicate=False)
async def replicate_supply_points(deliveries: list[Delivery[SupplyPointUpserted]]) -> None:
    newest: dict[str, tuple[Any, ...]] = {}
    for delivery in deliveries:
        e = delivery.event
        updated_at = _aware(e.source_updated_at)
        seen = newest.get(e.nic)
        if seen is not None and seen[8] > updated_at:
            continue  # one statement cannot touch a row twice: keep the newest of the batch per NIC
        newest[e.nic] = (
            e.nic,
            e.holder,
            e.address,
            e.municipality,
            e.department,
            e.tariff,
            e.meter,
            e.connection_status,
            updated_at,
        )
    await supply_point_store.upsert_many(deliveries[0].conn, list(newest.values()))


@subscriptions.on_batch(SupplyPointRetired)
async def retire_supply_points(deliveries: list[Delivery[SupplyPointRetired]]) -> None:
    await supply_point_store.retire_many(
        deliveries[0].conn,
        [(d.event.nic, d.event.reason, d.envelope.occurred_at) for d in deliveries],
    )


async def apply_ticket_status(
    conn: Connection, ticket_id: uuid.UUID, status: str, changed_at: datetime, actor: str, detail: dict
) -> str:
    """Sets a ticket's status from the tickets service. Returns what happened (for logs and tests)."""
    ticket = await event_store.ticket_for_update(conn, ticket_id)
    if ticket is None:
        log.warning("ticket %s is not known here; %s ignored", ticket_id, status)
        return "unknown"
    new_status = closure.ticket_status_after(
        ticket["status_changed_at"], status, changed_at, ticket["event_status"]
    )
    if new_status is None:
        if (
            status == closure.OPEN
            and ticket["event_status"] == closure.CLOSED
            and (ticket["status_changed_at"] is None or changed_at > ticket["status_changed_at"])
        ):
            await event_store.mark_late_reopen(conn, ticket_id, changed_at)
            log.warning("ticket %s reopened after its event closed; the event stays closed", ticket_id)
            return "late_reopen"
        return "stale"
    await event_store.set_ticket_status(conn, ticket_id, new_status, changed_at)
    await audit.record(
        conn,
        "event",
        ticket["event_id"],
        f"ticket.{'closed' if new_status == 'closed' else 'reopened'}",
        actor,
        {"ticket_id": str(ticket_id), "status": ticket["status"]},
        {"ticket_id": str(ticket_id), "status": new_status, **detail},
    )
    return "applied"


@subscriptions.on(TicketClosed)
async def ticket_closed(delivery: Delivery[TicketClosed]) -> None:
    e = delivery.event
    await apply_ticket_status(
        delivery.conn,
        e.ticket_id,
        closure.CLOSED,
        e.closed_at,
        e.closed_by or "tickets",
        {"resolution": e.resolution},
    )


@subscriptions.on(TicketReopened)
async def ticket_reopened(delivery: Delivery[TicketReopened]) -> None:
    e = delivery.event
    await apply_ticket_status(
        delivery.conn, e.ticket_id, closure.OPEN, e.reopened_at, "tickets", {"reason": e.reason}
    )
