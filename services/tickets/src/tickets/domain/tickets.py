"""Tickets: how COMANDA's status changes move them, what that publishes, who sees them, when they are late.

COMANDA is the source of truth of a ticket's status; the CRM mirrors it. Its messages can come twice, out of
order, or before the ticket exists here (the request travels on another topic). The rules:

1. **Duplicates.** A change whose ``comanda_event_id`` was already received (applied or kept pending) has no
   effect. (The kit drops a repeated envelope ``event_id`` before this code runs.)
2. **Order.** COMANDA numbers the changes of a ticket (``sequence``, strictly increasing). A change whose
   sequence is not greater than the last one applied to the ticket is stale and dropped: an older status never
   overwrites a newer one. Changes are taken in arrival order, so the result does not depend on how records
   are grouped into batches (a replay after a crash gives the same outcome).
3. **Unknown ticket.** A change for a ticket not materialized yet is kept pending, and applied (in sequence
   order, by the same rules) when the ticket arrives.
4. **Effects.** Moving to ``closed`` publishes ``TicketClosed``; ``reopened`` from ``closed`` publishes
   ``TicketReopened``; ``accepted`` / ``in_progress`` publish ``TicketStatusChanged``. COMANDA reporting
   ``accepted`` or ``in_progress`` for a closed ticket means it is open again there: that publishes
   ``TicketReopened`` first, so the attentions service never keeps counting a ticket as closed that COMANDA
   has open. A change to the status the ticket already has, or ``reopened`` for a ticket that is not closed,
   moves nothing (the sequence still advances) and publishes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, NamedTuple

from crm_contracts.envelope import EventModel
from crm_contracts.events.comanda import ComandaTicketStatusChanged
from crm_contracts.events.tickets import TicketClosed, TicketReopened, TicketStatusChanged

from tickets.domain.errors import RuleBroken

Status = Literal["assigned", "accepted", "in_progress", "closed", "reopened"]
STATUSES: tuple[Status, ...] = ("assigned", "accepted", "in_progress", "closed", "reopened")
OPEN_STATUSES: frozenset[str] = frozenset({"assigned", "accepted", "in_progress", "reopened"})
DropReason = Literal["duplicate", "stale", "unchanged", "not_closed"]


# The value types of the COMANDA path are NamedTuples: immutable like frozen dataclasses, but built in a
# fraction of the time (a worker builds several per closure, thousands a second), and their fields are in
# the order of the columns they are stored in, so a batch is transposed into columns with one ``zip``.


class TicketState(NamedTuple):
    """What the COMANDA rules need of a ticket (and change)."""

    ticket_id: uuid.UUID
    code: str
    event_id: uuid.UUID
    attention_id: uuid.UUID
    status: Status
    last_sequence: int
    status_changed_at: datetime
    resolution: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    reopen_reason: str | None = None


class StatusChange(NamedTuple):
    """One status change reported by COMANDA."""

    comanda_event_id: str
    envelope_id: uuid.UUID
    ticket_id: uuid.UUID
    sequence: int
    status: Literal["accepted", "in_progress", "closed", "reopened"]
    changed_at: datetime
    changed_by: str | None = None
    resolution: str | None = None
    reason: str | None = None

    @classmethod
    def from_event(cls, event: ComandaTicketStatusChanged, envelope_id: uuid.UUID) -> StatusChange:
        return cls(
            event.comanda_event_id,
            envelope_id,
            event.ticket_id,
            event.sequence,
            event.status,
            event.changed_at,
            event.changed_by,
            event.resolution,
            event.reason,
        )


def check_change(change: StatusChange) -> None:
    """Rules of the contract the JSON Schema cannot say. A change that breaks them can never be applied."""
    if not change.comanda_event_id.strip():
        raise RuleBroken("invalid", "comanda_event_id", "required", "comanda_event_id must not be blank")
    if change.status == "closed" and not (change.resolution or "").strip():
        raise RuleBroken(
            "invalid", "resolution", "resolution_required", "a closed status change must carry a resolution"
        )


class Transition(NamedTuple):
    """An applied change: the ticket moved from one status to another (a row of ``ticket_transitions``)."""

    ticket_id: uuid.UUID
    sequence: int
    from_status: Status
    to_status: Status
    comanda_event_id: str
    changed_at: datetime
    changed_by: str | None
    note: str | None


class Decision(NamedTuple):
    """What one change did: applied (a transition and the events it publishes), kept pending, or dropped."""

    change: StatusChange
    outcome: Literal["applied", "pending", "dropped"]
    reason: DropReason | None = None
    transition: Transition | None = None
    events: tuple[EventModel, ...] = ()


def decide(state: TicketState | None, change: StatusChange) -> tuple[TicketState | None, Decision]:
    """The ticket after ``change``, and what the change did. ``state`` is None for an unknown ticket."""
    if state is None:
        return None, Decision(change, "pending")
    if change.sequence <= state.last_sequence:
        return state, Decision(change, "dropped", "stale")
    target: Status = change.status
    if target == state.status:
        return state._replace(last_sequence=change.sequence), Decision(change, "dropped", "unchanged")
    if target == "reopened" and state.status != "closed":
        return state._replace(last_sequence=change.sequence), Decision(change, "dropped", "not_closed")

    events: tuple[EventModel, ...]
    if target == "closed":
        resolution = (change.resolution or "").strip()
        new = TicketState(
            state.ticket_id,
            state.code,
            state.event_id,
            state.attention_id,
            "closed",
            change.sequence,
            change.changed_at,
            resolution,
            change.changed_at,
            change.changed_by,
            None,
        )
        events = (
            TicketClosed(
                ticket_id=state.ticket_id,
                event_id=state.event_id,
                attention_id=state.attention_id,
                resolution=resolution,
                closed_at=change.changed_at,
                closed_by=change.changed_by,
                code=state.code,
            ),
        )
        note: str | None = resolution
    else:
        was_closed = state.status == "closed"
        if target == "reopened":
            reason = change.reason
        elif was_closed:
            reason = change.reason or f"COMANDA reported the ticket {target} after its closure"
        else:
            reason = None
        new = TicketState(
            state.ticket_id,
            state.code,
            state.event_id,
            state.attention_id,
            target,
            change.sequence,
            change.changed_at,
            None,
            None,
            None,
            reason if was_closed else state.reopen_reason,
        )
        events = ()
        if was_closed:
            events += (
                TicketReopened(
                    ticket_id=state.ticket_id,
                    event_id=state.event_id,
                    attention_id=state.attention_id,
                    reason=reason,
                    reopened_at=change.changed_at,
                    reopened_by=change.changed_by,
                    code=state.code,
                ),
            )
        if target != "reopened":
            events += (
                TicketStatusChanged(
                    ticket_id=state.ticket_id,
                    event_id=state.event_id,
                    attention_id=state.attention_id,
                    status=target,
                    changed_at=change.changed_at,
                    changed_by=change.changed_by,
                    code=state.code,
                ),
            )
        note = reason
    transition = Transition(
        state.ticket_id,
        change.sequence,
        state.status,
        target,
        change.comanda_event_id,
        change.changed_at,
        change.changed_by,
        note,
    )
    return new, Decision(change, "applied", None, transition, events)


@dataclass
class Plan:
    """The outcome of a run of changes: the tickets that changed and one decision per change."""

    states: dict[uuid.UUID, TicketState] = field(default_factory=dict)
    # The tickets whose state changed, in the order of their first change (a dict keeps it).
    changed: dict[uuid.UUID, None] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)

    @property
    def changed_states(self) -> list[TicketState]:
        return [self.states[ticket_id] for ticket_id in self.changed]

    @property
    def applied(self) -> list[Decision]:
        return [d for d in self.decisions if d.outcome == "applied"]

    @property
    def transitions(self) -> list[Transition]:
        return [d.transition for d in self.decisions if d.transition is not None]

    @property
    def pending(self) -> list[StatusChange]:
        return [d.change for d in self.decisions if d.outcome == "pending"]

    @property
    def dropped(self) -> list[Decision]:
        return [d for d in self.decisions if d.outcome == "dropped"]

    @property
    def events(self) -> list[tuple[StatusChange, EventModel]]:
        return [(d.change, e) for d in self.decisions for e in d.events]


def plan_changes(
    states: dict[uuid.UUID, TicketState],
    changes: Iterable[StatusChange],
    known_comanda_ids: Iterable[str] = (),
) -> Plan:
    """Apply ``changes`` in the given order to the known tickets ``states``.

    ``known_comanda_ids``: ids of COMANDA changes already applied or kept pending (rule 1).
    """
    plan = Plan(states=dict(states))
    seen = set(known_comanda_ids)
    current = plan.states
    decisions = plan.decisions
    for change in changes:
        if change.comanda_event_id in seen:
            decisions.append(Decision(change, "dropped", "duplicate"))
            continue
        seen.add(change.comanda_event_id)
        before = current.get(change.ticket_id)
        after, decision = decide(before, change)
        if after is not None and after is not before:
            current[change.ticket_id] = after
            plan.changed[change.ticket_id] = None
        decisions.append(decision)
    return plan


def pending_order(changes: Sequence[StatusChange]) -> list[StatusChange]:
    """Pending changes are applied by ticket and sequence when their ticket arrives."""
    return sorted(changes, key=lambda c: (str(c.ticket_id), c.sequence))


# -- who sees a ticket, and when it is late ---------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    user_id: str
    is_admin: bool = False


@dataclass(frozen=True)
class Audience:
    """The facts of a ticket that decide who sees it."""

    responsible_id: str
    cc_ids: frozenset[str]
    subject_kind: Literal["client", "supply_point"]
    client_id: uuid.UUID | None


def can_see(viewer: Viewer, audience: Audience, has_client_access: bool) -> bool:
    """Admins see every ticket; the responsible person and the people in copy see theirs; a client's
    tickets are seen by whoever is on the client's access list; supply-point tickets by every staff member.
    (The list query in ``store.tickets`` says the same in SQL.)"""
    if viewer.is_admin or viewer.user_id == audience.responsible_id or viewer.user_id in audience.cc_ids:
        return True
    if audience.subject_kind == "supply_point":
        return True
    return audience.client_id is not None and has_client_access


def is_overdue(due_date: date, status: str, today: date) -> bool:
    """A ticket is overdue when it is still open after its due date (in the utility's local calendar)."""
    return status != "closed" and due_date < today
