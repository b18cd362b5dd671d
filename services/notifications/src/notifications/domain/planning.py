"""Which reminders, escalations and event alerts are due at a given moment, and to whom.

Everything here is a pure function of the service's projections and the rules: the scheduler loads the
projections, calls ``plan`` and records each planned message under its unique key, so a message planned
again at the next tick (or by another instance) is never sent twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from notifications.domain.dates import EL_SALVADOR, days_overdue, local_now
from notifications.domain.model import EventView, StaffMember, TicketView
from notifications.domain.rules import Ladder, Reminder, Rules, Tier

Kind = Literal["assignment", "reminder", "escalation", "event_internal_overdue", "event_client_due"]
SCHEDULED_KINDS: tuple[Kind, ...] = ("reminder", "escalation", "event_internal_overdue", "event_client_due")
TICKET_KINDS: tuple[Kind, ...] = ("reminder", "escalation")
EVENT_KINDS: tuple[Kind, ...] = ("event_internal_overdue", "event_client_due")
MAX_CHAIN = 20


@dataclass(frozen=True)
class Planned:
    """One message the scheduler should record (unless its key was recorded before)."""

    key: str
    kind: Kind
    recipient: StaffMember
    ticket: TicketView | None = None
    event: EventView | None = None
    days: int = 0  # days before the date (reminders, client alerts) or days past it (escalations, internal)
    reminder: Reminder | None = None
    ladder: Ladder | None = None
    tier: Tier | None = None
    responsible: StaffMember | None = None


def manager_chain(
    user_id: str, staff: Mapping[str, StaffMember], max_levels: int = MAX_CHAIN
) -> list[StaffMember]:
    """The active managers above a person, nearest first (1st = coordinator, 2nd = manager, ...).

    Inactive managers are passed over (their own manager is followed); a cycle or an unknown manager ends
    the chain.
    """
    chain: list[StaffMember] = []
    seen = {user_id}
    current = staff.get(user_id)
    while current is not None and current.manager_id and len(chain) < max_levels:
        if current.manager_id in seen:
            break
        seen.add(current.manager_id)
        manager = staff.get(current.manager_id)
        if manager is None:
            break
        if manager.active:
            chain.append(manager)
        current = manager
    return chain


def reminders_due(
    ticket: TicketView, rules: Rules, today: date, tz: ZoneInfo = EL_SALVADOR
) -> list[Reminder]:
    """Reminders whose day has come (due date minus N days) and whose due date has not passed.

    A reminder whose day had already come when the ticket was assigned is not sent: the assignment email
    said the same thing that day.
    """
    if ticket.closed:
        return []
    assigned_day = local_now(ticket.assigned_at, tz).date() if ticket.assigned_at else None
    due: list[Reminder] = []
    for reminder in rules.reminders_for(ticket.area, ticket.ticket_type):
        day = date.fromordinal(ticket.due_date.toordinal() - reminder.days_before)
        if today < day or today > ticket.due_date:
            continue
        if assigned_day is not None and assigned_day >= day:
            continue
        due.append(reminder)
    return due


def escalations_due(
    ticket: TicketView, ladder: Ladder, chain: list[StaffMember], today: date
) -> list[tuple[Tier, StaffMember]]:
    """Every tier the ticket has reached (days overdue >= after_days) that has someone at its level.

    A tier above the top of the chain has nobody to go to and is skipped.
    """
    if ticket.closed:
        return []
    overdue = days_overdue(ticket.due_date, today)
    return [
        (tier, chain[tier.levels_up - 1])
        for tier in ladder.tiers
        if overdue >= tier.after_days and len(chain) >= tier.levels_up
    ]


def event_alerts_due(
    event: EventView, rules: Rules, today: date, opened_day: date | None = None
) -> list[tuple[Kind, int]]:
    """(kind, days) of the alerts an open event with open tickets has reached."""
    if event.closed or event.open_tickets <= 0:
        return []
    alerts: list[tuple[Kind, int]] = []
    if rules.event_alerts.internal_date_passed and today > event.internal_commitment_date:
        alerts.append(("event_internal_overdue", (today - event.internal_commitment_date).days))
    for days in rules.event_alerts.client_days_before:
        day = date.fromordinal(event.client_commitment_date.toordinal() - days)
        if day <= today <= event.client_commitment_date and (opened_day is None or opened_day < day):
            alerts.append(("event_client_due", days))
    return alerts


def plan(
    now: datetime,
    rules: Rules,
    staff: Mapping[str, StaffMember],
    tickets: Iterable[TicketView],
    events: Iterable[EventView],
    event_opened_days: Mapping[object, date] | None = None,
    tz: ZoneInfo = EL_SALVADOR,
) -> list[Planned]:
    """Every reminder, escalation and event alert due at ``now`` (recorded or not yet)."""
    local = local_now(now, tz)
    if local.time() < rules.send_from:
        return []
    today = local.date()
    planned: list[Planned] = []
    for ticket in tickets:
        if ticket.closed:
            continue
        responsible = staff.get(ticket.responsible_id) or StaffMember(
            ticket.responsible_id, ticket.responsible_name, ticket.responsible_email, ticket.area
        )
        if responsible.active:
            for reminder in reminders_due(ticket, rules, today, tz):
                planned.append(
                    Planned(
                        key=f"reminder:{ticket.ticket_id}:{reminder.name}",
                        kind="reminder",
                        recipient=responsible,
                        ticket=ticket,
                        days=reminder.days_before,
                        reminder=reminder,
                        responsible=responsible,
                    )
                )
        ladder = rules.ladder_for(ticket.area, ticket.ticket_type)
        if ladder.tiers and days_overdue(ticket.due_date, today) >= ladder.tiers[0].after_days:
            chain = manager_chain(ticket.responsible_id, staff)
            for tier, manager in escalations_due(ticket, ladder, chain, today):
                planned.append(
                    Planned(
                        key=f"escalation:{ticket.ticket_id}:{ladder.name}:{tier.number}",
                        kind="escalation",
                        recipient=manager,
                        ticket=ticket,
                        days=days_overdue(ticket.due_date, today),
                        ladder=ladder,
                        tier=tier,
                        responsible=responsible,
                    )
                )
    opened = event_opened_days or {}
    for event in events:
        creator = staff.get(event.created_by)
        if creator is None or not creator.active:
            continue
        for kind, days in event_alerts_due(event, rules, today, opened.get(event.event_id)):
            key = (
                f"event-internal:{event.event_id}:{event.internal_commitment_date.isoformat()}"
                if kind == "event_internal_overdue"
                else f"event-client:{event.event_id}:{days}d"
            )
            planned.append(Planned(key=key, kind=kind, recipient=creator, event=event, days=days))
    return planned
