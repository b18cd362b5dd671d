"""Events the reports service consumes, and what each one does: every one is an upsert of the read model.

Topics: attentions.staff.v1, attentions.clients.v1, attentions.attentions.v1, attentions.events.v1,
tickets.tickets.v1, tickets.work-orders.v1, factelec.supply-points.v1 (the registry lists ``reports`` as
their consumer). Each handler takes a run of consecutive deliveries (``on_batch``) and writes them with one
prepared statement in the batch's transaction, beside the kit's dedupe records. Rows converge whatever
order the events arrive in (see ``store.projection``).
"""

from __future__ import annotations

from typing import Any

from crm_contracts.events.attentions import AttentionClosed, AttentionOpened, EventClosed, EventOpened
from crm_contracts.events.clients import ClientAccessGranted, ClientAccessRevoked, ClientUpserted
from crm_contracts.events.common import Subject
from crm_contracts.events.factelec import SupplyPointRetired, SupplyPointUpserted
from crm_contracts.events.staff import StaffMemberUpserted
from crm_contracts.events.tickets import (
    TicketAssigned,
    TicketClosed,
    TicketReopened,
    TicketStatusChanged,
    WorkOrderChanged,
)
from crmkit.consumer import Delivery, Subscriptions

from reports.store import projection as sql
from reports.store.projection import write

subscriptions = Subscriptions()


def subject(s: Subject) -> tuple[Any, ...]:
    return (s.kind, s.client_id, s.nic)


@subscriptions.on_batch(StaffMemberUpserted)
async def project_staff(deliveries: list[Delivery[StaffMemberUpserted]]) -> None:
    rows = [(d.event.user_id, d.event.name, d.event.area, d.envelope.occurred_at) for d in deliveries]
    await write(deliveries[0].conn, sql.UPSERT_STAFF, rows)


@subscriptions.on_batch(ClientUpserted)
async def project_clients(deliveries: list[Delivery[ClientUpserted]]) -> None:
    rows = [
        (e.client_id, e.code, e.kind, e.internal, e.name, d.envelope.occurred_at)
        for d in deliveries
        for e in (d.event,)
    ]
    await write(deliveries[0].conn, sql.UPSERT_CLIENT, rows)


@subscriptions.on_batch(ClientAccessGranted, ClientAccessRevoked)
async def project_access(deliveries: list[Delivery[Any]]) -> None:
    rows = [
        (
            d.event.client_id,
            d.event.user_id,
            isinstance(d.event, ClientAccessGranted),
            d.envelope.occurred_at,
        )
        for d in deliveries
    ]
    await write(deliveries[0].conn, sql.UPSERT_ACCESS, rows)


@subscriptions.on_batch(SupplyPointUpserted, SupplyPointRetired)
async def project_supply_points(deliveries: list[Delivery[Any]]) -> None:
    conn = deliveries[0].conn
    for d in deliveries:  # a retirement and an update of one NIC in a batch keep their order
        e = d.event
        if isinstance(e, SupplyPointUpserted):
            await conn.execute(
                sql.UPSERT_SUPPLY_POINT, e.nic, e.holder, e.address, e.tariff, d.envelope.occurred_at
            )
        else:
            await conn.execute(sql.RETIRE_SUPPLY_POINT, e.nic, d.envelope.occurred_at)


@subscriptions.on_batch(AttentionOpened)
async def project_opened_attentions(deliveries: list[Delivery[AttentionOpened]]) -> None:
    rows = [
        (
            e.attention_id,
            e.code,
            *subject(e.subject),
            e.subject.display_name,
            e.channel,
            e.summary,
            e.registered_by,
            e.happened_at,
        )
        for d in deliveries
        for e in (d.event,)
    ]
    await write(deliveries[0].conn, sql.OPEN_ATTENTION, rows)


@subscriptions.on_batch(AttentionClosed)
async def project_closed_attentions(deliveries: list[Delivery[AttentionClosed]]) -> None:
    rows = [(d.event.attention_id, d.event.closed_at, d.event.closed_by) for d in deliveries]
    await write(deliveries[0].conn, sql.CLOSE_ATTENTION, rows)


@subscriptions.on_batch(EventOpened)
async def project_opened_events(deliveries: list[Delivery[EventOpened]]) -> None:
    rows = [
        (
            e.event_id,
            e.attention_id,
            e.code,
            *subject(e.subject),
            e.title,
            e.internal_commitment_date,
            e.client_commitment_date,
            e.created_by,
            d.envelope.occurred_at,
        )
        for d in deliveries
        for e in (d.event,)
    ]
    await write(deliveries[0].conn, sql.OPEN_EVENT, rows)


@subscriptions.on_batch(EventClosed)
async def project_closed_events(deliveries: list[Delivery[EventClosed]]) -> None:
    rows = [
        (d.event.event_id, d.event.attention_id, d.event.closed_at, d.event.closed_by) for d in deliveries
    ]
    await write(deliveries[0].conn, sql.CLOSE_EVENT, rows)


@subscriptions.on_batch(TicketAssigned)
async def project_assigned_tickets(deliveries: list[Delivery[TicketAssigned]]) -> None:
    rows = [
        (
            e.ticket_id,
            e.event_id,
            e.attention_id,
            e.code,
            *subject(e.subject),
            e.responsibility,
            e.responsible.user_id,
            e.responsible.name,
            e.responsible.area,
            e.due_date,
            d.envelope.occurred_at,
        )
        for d in deliveries
        for e in (d.event,)
    ]
    await write(deliveries[0].conn, sql.ASSIGN_TICKET, rows)


@subscriptions.on_batch(TicketStatusChanged, TicketClosed, TicketReopened)
async def project_ticket_status(deliveries: list[Delivery[Any]]) -> None:
    changes: list[tuple[Any, ...]] = []
    reopens: list[tuple[Any, ...]] = []
    for d in deliveries:
        e = d.event
        if isinstance(e, TicketClosed):
            changes.append((e.ticket_id, e.event_id, e.attention_id, "closed", e.closed_at, e.closed_at))
        elif isinstance(e, TicketReopened):
            changes.append((e.ticket_id, e.event_id, e.attention_id, "reopened", e.reopened_at, None))
            reopens.append((e.ticket_id, e.reopened_at))
        else:
            changes.append((e.ticket_id, e.event_id, e.attention_id, e.status, e.changed_at, None))
    conn = deliveries[0].conn
    await write(conn, sql.CHANGE_TICKET_STATUS, changes)
    await write(conn, sql.RECORD_REOPEN, reopens)


@subscriptions.on_batch(WorkOrderChanged)
async def project_work_orders(deliveries: list[Delivery[WorkOrderChanged]]) -> None:
    rows = [
        (e.work_order_id, e.ticket_id, e.code, e.status, e.work_type, e.nic, e.area, e.changed_at)
        for d in deliveries
        for e in (d.event,)
    ]
    await write(deliveries[0].conn, sql.UPSERT_WORK_ORDER, rows)
