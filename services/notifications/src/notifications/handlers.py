"""Events the notifications service consumes, and what each one does.

Every handler runs in the kit's consumer transaction, beside the record of the consumed event id: the
projection change and the recorded emails commit together, so a redelivered event (the same event id)
has no second effect, and the unique key of each email ((event, recipient, kind)) guards even after the
inbox record has been pruned.

- ``attentions.staff_member.upserted`` -> the staff projection (names, emails, manager chain);
- ``tickets.ticket.assigned`` -> the ticket projection, and one assignment email per recipient
  (responsible person: To; CC people: Cc);
- ``tickets.ticket.status_changed`` / ``closed`` / ``reopened`` -> the ticket's state; a closed ticket's
  reminders and escalations not sent yet are cancelled;
- ``attentions.event.opened`` / ``closed`` -> the event projection; a closed event's alerts not sent yet
  are cancelled.
"""

from __future__ import annotations

from datetime import datetime

from crm_contracts.events.attentions import EventClosed, EventOpened
from crm_contracts.events.staff import StaffMemberUpserted
from crm_contracts.events.tickets import TicketAssigned, TicketClosed, TicketReopened, TicketStatusChanged
from crmkit.consumer import Delivery, Subscriptions

from notifications.clock import Clock, SystemClock
from notifications.compose import Composer, Outgoing
from notifications.domain.model import Recipient, StaffMember, TicketView
from notifications.domain.planning import EVENT_KINDS, TICKET_KINDS
from notifications.domain.recipients import assignment_recipients
from notifications.store import messages as message_store
from notifications.store import projections


def ticket_view(event: TicketAssigned, assigned_at: datetime) -> TicketView:
    """The ticket as this service keeps it, from its assignment."""
    return TicketView(
        ticket_id=event.ticket_id,
        code=event.code,
        responsibility=event.responsibility,
        due_date=event.due_date,
        responsible_id=event.responsible.user_id,
        responsible_name=event.responsible.name,
        responsible_email=event.responsible.email,
        area=event.responsible.area,
        event_id=event.event_id,
        event_code=event.event_code,
        event_title=event.event_title,
        event_internal_date=event.event_internal_commitment_date,
        attention_code=event.attention_code,
        subject_name=event.subject.display_name,
        subject_kind=event.subject.kind,
        subject_nic=event.subject.nic,
        # Not in the contract yet (see docs/notifications.md): rules by ticket type wait for it.
        ticket_type=event.ticket_type,
        assigned_at=assigned_at,
    )


def build_subscriptions(composer: Composer, clock: Clock | None = None) -> Subscriptions:
    clock = clock or SystemClock()
    subscriptions = Subscriptions()

    @subscriptions.on_batch(StaffMemberUpserted)
    async def staff_upserted(deliveries: list[Delivery[StaffMemberUpserted]]) -> None:
        members = [
            StaffMember(e.user_id, e.name, e.email, e.area, e.manager_id, e.active)
            for e in (d.event for d in deliveries)
        ]
        await projections.upsert_staff(deliveries[0].conn, members, clock.now())

    @subscriptions.on_batch(TicketAssigned)
    async def ticket_assigned(deliveries: list[Delivery[TicketAssigned]]) -> None:
        now = clock.now()
        tickets = []
        outgoing: list[Outgoing] = []
        for delivery in deliveries:
            event = delivery.event
            view = ticket_view(event, delivery.envelope.occurred_at)
            cc = [p.model_dump() for p in event.cc]
            tickets.append((view, event.attention_id, cc))
            recipients = assignment_recipients(
                Recipient(event.responsible.user_id, event.responsible.name, event.responsible.email),
                [Recipient(p.user_id, p.name, p.email) for p in event.cc],
            )
            outgoing += composer.assignment(view, recipients, delivery.envelope.event_id, now)
        conn = deliveries[0].conn
        await projections.upsert_tickets(conn, tickets, now)
        await message_store.insert(conn, outgoing)

    @subscriptions.on(TicketStatusChanged)
    async def ticket_status_changed(delivery: Delivery[TicketStatusChanged]) -> None:
        event = delivery.event
        closed = event.status == "closed"
        await projections.set_ticket_state(delivery.conn, event.ticket_id, event.status, closed, clock.now())

    @subscriptions.on(TicketClosed)
    async def ticket_closed(delivery: Delivery[TicketClosed]) -> None:
        now = clock.now()
        await projections.set_ticket_state(delivery.conn, delivery.event.ticket_id, "closed", True, now)
        await message_store.cancel_open(
            delivery.conn,
            kinds=TICKET_KINDS,
            reason=message_store.TICKET_CLOSED,
            at=now,
            ticket_id=delivery.event.ticket_id,
        )

    @subscriptions.on(TicketReopened)
    async def ticket_reopened(delivery: Delivery[TicketReopened]) -> None:
        await projections.set_ticket_state(
            delivery.conn, delivery.event.ticket_id, "reopened", False, clock.now()
        )

    @subscriptions.on(EventOpened)
    async def event_opened(delivery: Delivery[EventOpened]) -> None:
        e = delivery.event
        await projections.upsert_event(
            delivery.conn,
            event_id=e.event_id,
            attention_id=e.attention_id,
            code=e.code,
            title=e.title,
            subject_kind=e.subject.kind,
            subject_name=e.subject.display_name,
            subject_nic=e.subject.nic,
            client_commitment_date=e.client_commitment_date,
            internal_commitment_date=e.internal_commitment_date,
            created_by=e.created_by,
            opened_at=delivery.envelope.occurred_at,
        )

    @subscriptions.on(EventClosed)
    async def event_closed(delivery: Delivery[EventClosed]) -> None:
        now = clock.now()
        await projections.close_event(delivery.conn, delivery.event.event_id, now)
        await message_store.cancel_open(
            delivery.conn,
            kinds=EVENT_KINDS,
            reason=message_store.EVENT_CLOSED,
            at=now,
            event_id=delivery.event.event_id,
        )

    return subscriptions
