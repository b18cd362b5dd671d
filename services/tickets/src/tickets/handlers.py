"""Events the tickets service consumes, and what each one does.

- ``attentions.ticket.requested``: materialize the ticket, publish ``tickets.ticket.assigned`` (COMANDA puts
  it in the person's inbox), and apply the COMANDA changes that arrived before it;
- ``comanda.ticket.status_changed``: move the ticket by the rules of ``domain.tickets`` and publish what
  the move means (closed, reopened, status changed);
- ``attentions.client_access.granted`` / ``revoked``: who may see the tickets of each client.

Every handler takes a whole run of consecutive records (``on_batch``) and writes with one statement per
table, in the batch's transaction, with the dedupe record of each event: one worker keeps up with
thousands of closures a second. Each published event is caused by the incoming event it follows from.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from crm_contracts.events.clients import ClientAccessGranted, ClientAccessRevoked
from crm_contracts.events.comanda import ComandaTicketStatusChanged
from crm_contracts.events.tickets import TicketAssigned, TicketRequested
from crmkit.consumer import Delivery, PoisonMessage, Subscriptions
from crmkit.db import Connection
from crmkit.outbox import Caused, Outbox

from tickets.domain.errors import RuleBroken
from tickets.domain.tickets import Plan, StatusChange, check_change, pending_order, plan_changes
from tickets.store import tickets as store
from tickets.store.access import AccessChange, apply_access_changes

log = logging.getLogger(__name__)
subscriptions = Subscriptions()


@subscriptions.on_batch(TicketRequested)
async def materialize_tickets(deliveries: list[Delivery[TicketRequested]]) -> None:
    conn, outbox = deliveries[0].conn, deliveries[0].outbox
    first: dict[uuid.UUID, Delivery[TicketRequested]] = {}
    for delivery in deliveries:
        first.setdefault(delivery.event.ticket_id, delivery)
    await store.lock_tickets(conn, first)
    requests = [store.Request(d.event, d.envelope.occurred_at) for d in first.values()]
    inserted = await store.insert_tickets(conn, requests)
    if not inserted:
        return  # every one of them was materialized before (a re-sent request with a new envelope id)
    new = [r for r in requests if r.event.ticket_id in inserted]
    await store.insert_creations(conn, new)
    await outbox.copy_caused(
        conn,
        [
            Caused(
                TicketAssigned.model_validate(r.event.model_dump()),
                first[r.event.ticket_id].envelope.event_id,
                first[r.event.ticket_id].envelope.correlation_id,
            )
            for r in new
        ],
    )
    pending = await store.take_pending(conn, inserted)
    if pending:
        log.info("applying %d COMANDA changes that arrived before their tickets", len(pending))
        states = await store.ticket_states(conn, {p.change.ticket_id for p in pending})
        plan = plan_changes(states, pending_order([p.change for p in pending]))
        await write_plan(conn, outbox, plan, {p.change.envelope_id: p.correlation_id for p in pending})


@subscriptions.on_batch(ComandaTicketStatusChanged)
async def apply_comanda_changes(deliveries: list[Delivery[ComandaTicketStatusChanged]]) -> None:
    conn, outbox = deliveries[0].conn, deliveries[0].outbox
    changes: list[StatusChange] = []
    correlations: dict[uuid.UUID, uuid.UUID | None] = {}
    for delivery in deliveries:
        envelope = delivery.envelope
        change = StatusChange.from_event(envelope.data, envelope.event_id)
        try:
            check_change(change)
        except RuleBroken as exc:
            # Never applicable: the kit dead-letters it (after taking the rest of the batch one by one).
            raise PoisonMessage(f"{exc.field}: {exc.rule}: {exc.message}") from exc
        changes.append(change)
        correlations[change.envelope_id] = envelope.correlation_id
    ticket_ids = {c.ticket_id for c in changes}
    await store.lock_tickets(conn, ticket_ids)
    states = await store.ticket_states(conn, ticket_ids)
    known = await store.known_comanda_ids(conn, [c.comanda_event_id for c in changes])
    plan = plan_changes(states, changes, known)
    await write_plan(conn, outbox, plan, correlations)


async def write_plan(
    conn: Connection, outbox: Outbox, plan: Plan, correlations: Mapping[uuid.UUID, uuid.UUID | None]
) -> None:
    """Write what a run of COMANDA changes did: states, transitions, pending and dropped changes, events."""
    await store.save_states(conn, plan.changed_states)
    await store.insert_transitions(conn, plan.transitions)
    pending = plan.pending
    if pending:
        await store.add_pending(
            conn, [store.PendingChange(c, correlations.get(c.envelope_id)) for c in pending]
        )
    dropped = plan.dropped
    if dropped:
        log.debug("dropped %d COMANDA changes", len(dropped))
        await store.record_dropped(conn, dropped)
    await outbox.copy_caused(
        conn,
        [Caused(event, c.envelope_id, correlations.get(c.envelope_id)) for c, event in plan.events],
    )


@subscriptions.on_batch(ClientAccessGranted, ClientAccessRevoked)
async def project_client_access(deliveries: list[Delivery[Any]]) -> None:
    await apply_access_changes(
        deliveries[0].conn,
        [
            AccessChange(
                d.event.client_id,
                d.event.user_id,
                isinstance(d.event, ClientAccessGranted),
                d.envelope.occurred_at,
            )
            for d in deliveries
        ],
    )
