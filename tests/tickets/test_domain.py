"""The rules of tickets and work orders, without I/O."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from crm_contracts.events.comanda import ComandaStatus
from crm_contracts.events.tickets import TicketClosed, TicketReopened, TicketStatusChanged
from tickets.domain.errors import RuleBroken
from tickets.domain.tickets import (
    Audience,
    Status,
    StatusChange,
    TicketState,
    Viewer,
    can_see,
    check_change,
    decide,
    is_overdue,
    pending_order,
    plan_changes,
)
from tickets.domain.work_orders import (
    TRANSITIONS,
    Action,
    Actor,
    OrderFacts,
    check_edit,
    check_new_order,
    check_printable,
    decide_transition,
    is_technical_area,
    may,
)
from tickets.domain.work_orders import Status as OrderStatus

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
TICKET = uuid.UUID("0b7f3a52-2f1e-4c8e-9a41-6f2d9c1e5b10")


def state(status: Status = "assigned", last_sequence: int = 0, **kw: Any) -> TicketState:
    return TicketState(
        ticket_id=TICKET,
        code="TCK-2026-000311",
        event_id=uuid.UUID(int=1),
        attention_id=uuid.UUID(int=2),
        status=status,
        last_sequence=last_sequence,
        status_changed_at=T0,
        **kw,
    )


def change(sequence: int, status: ComandaStatus, *, cid: str | None = None, **kw: Any) -> StatusChange:
    return StatusChange(
        comanda_event_id=cid or f"cmd-{sequence}-{status}",
        envelope_id=uuid.uuid4(),
        ticket_id=TICKET,
        sequence=sequence,
        status=status,
        changed_at=T0 + timedelta(minutes=sequence),
        changed_by="jperez",
        **kw,
    )


# -- COMANDA status changes ------------------------------------------------------------------------------


def test_closing_a_ticket_publishes_ticket_closed_with_its_event_and_attention() -> None:
    after, decision = decide(state("in_progress", 2), change(3, "closed", resolution=" Medidor cambiado "))
    assert after is not None and after.status == "closed" and after.last_sequence == 3
    assert (after.resolution, after.closed_by, after.closed_at) == (
        "Medidor cambiado",
        "jperez",
        T0 + timedelta(minutes=3),
    )
    assert decision.outcome == "applied"
    [event] = decision.events
    assert isinstance(event, TicketClosed)
    assert (event.event_id, event.attention_id, event.resolution) == (
        uuid.UUID(int=1),
        uuid.UUID(int=2),
        "Medidor cambiado",
    )
    assert decision.transition is not None
    assert (decision.transition.from_status, decision.transition.to_status) == ("in_progress", "closed")


def test_progress_publishes_status_changed() -> None:
    after, decision = decide(state(), change(1, "accepted"))
    assert after is not None and after.status == "accepted"
    [event] = decision.events
    assert isinstance(event, TicketStatusChanged) and event.status == "accepted"


def test_reopening_a_closed_ticket_publishes_ticket_reopened_and_clears_the_resolution() -> None:
    closed = state("closed", 3, resolution="x", closed_at=T0, closed_by="a")
    after, decision = decide(closed, change(4, "reopened", reason="falla de nuevo"))
    assert after is not None
    assert (after.status, after.resolution, after.closed_at, after.reopen_reason) == (
        "reopened",
        None,
        None,
        "falla de nuevo",
    )
    [event] = decision.events
    assert isinstance(event, TicketReopened) and event.reason == "falla de nuevo"


def test_progress_reported_for_a_closed_ticket_reopens_it_first() -> None:
    after, decision = decide(state("closed", 3, resolution="x"), change(4, "in_progress"))
    assert after is not None and after.status == "in_progress"
    assert [type(e) for e in decision.events] == [TicketReopened, TicketStatusChanged]


@pytest.mark.parametrize("sequence", [1, 2])
def test_a_change_not_newer_than_the_last_applied_is_stale(sequence: int) -> None:
    before = state("closed", 2, resolution="x")
    after, decision = decide(before, change(sequence, "in_progress"))
    assert after == before
    assert (decision.outcome, decision.reason, decision.events) == ("dropped", "stale", ())


def test_the_same_status_again_moves_nothing_but_advances_the_sequence() -> None:
    after, decision = decide(state("closed", 2, resolution="x"), change(5, "closed", resolution="y"))
    assert after is not None and (after.status, after.resolution, after.last_sequence) == ("closed", "x", 5)
    assert (decision.outcome, decision.reason) == ("dropped", "unchanged")


def test_reopening_a_ticket_that_is_not_closed_moves_nothing() -> None:
    after, decision = decide(state("accepted", 1), change(2, "reopened"))
    assert after is not None and (after.status, after.last_sequence) == ("accepted", 2)
    assert (decision.outcome, decision.reason) == ("dropped", "not_closed")


def test_a_change_for_an_unknown_ticket_is_pending() -> None:
    after, decision = decide(None, change(1, "closed", resolution="x"))
    assert after is None and decision.outcome == "pending"


def test_a_closure_needs_a_resolution() -> None:
    with pytest.raises(RuleBroken) as broken:
        check_change(change(1, "closed", resolution="  "))
    assert (broken.value.field, broken.value.rule) == ("resolution", "resolution_required")
    check_change(change(1, "accepted"))


def test_duplicates_are_dropped_by_comanda_event_id_within_a_run_and_against_known_ids() -> None:
    first = change(1, "accepted", cid="c1")
    plan = plan_changes({TICKET: state()}, [first, change(2, "closed", cid="c1", resolution="x")], ["c0"])
    assert [d.outcome for d in plan.decisions] == ["applied", "dropped"]
    assert plan.decisions[1].reason == "duplicate"
    plan = plan_changes({TICKET: state()}, [change(1, "accepted", cid="c0")], known_comanda_ids=["c0"])
    assert plan.decisions[0].reason == "duplicate" and not plan.changed


def test_the_outcome_does_not_depend_on_how_changes_are_split_into_batches() -> None:
    """Replays after a crash regroup records differently; the final state must be the same."""
    changes = [
        change(1, "accepted"),
        change(3, "closed", resolution="ok"),
        change(2, "in_progress"),
        change(4, "reopened", reason="r"),
        change(4, "reopened", reason="r", cid="cmd-4-reopened"),
        change(6, "closed", resolution="ok2"),
        change(5, "accepted"),
    ]
    whole = plan_changes({TICKET: state()}, changes)
    for cut in range(1, len(changes)):
        first = plan_changes({TICKET: state()}, changes[:cut])
        known = [d.change.comanda_event_id for d in first.applied]
        second = plan_changes(first.states, changes[cut:], known)
        assert second.states[TICKET] == whole.states[TICKET]
        applied = [d.change.comanda_event_id for d in first.applied + second.applied]
        assert applied == [d.change.comanda_event_id for d in whole.applied]
    assert whole.states[TICKET].status == "closed"
    assert [type(e).__name__ for _, e in whole.events] == [
        "TicketStatusChanged",
        "TicketClosed",
        "TicketReopened",
        "TicketClosed",
    ]


def test_pending_changes_are_applied_in_sequence_order() -> None:
    pending = [change(3, "closed", resolution="x"), change(1, "accepted"), change(2, "in_progress")]
    plan = plan_changes({TICKET: state()}, pending_order(pending))
    assert [d.outcome for d in plan.decisions] == ["applied"] * 3
    assert plan.states[TICKET].status == "closed"


def test_any_order_of_changes_ends_in_the_newest_status() -> None:
    changes = [change(1, "accepted"), change(2, "in_progress"), change(3, "closed", resolution="x")]
    for order in itertools.permutations(changes):
        plan = plan_changes({TICKET: state()}, order)
        assert plan.states[TICKET].status == "closed"
        assert sum(isinstance(e, TicketClosed) for _, e in plan.events) == 1


# -- visibility and lateness -----------------------------------------------------------------------------

CLIENT = uuid.uuid4()


@pytest.mark.parametrize(
    ("viewer", "audience", "access", "sees"),
    [
        (Viewer("u-admin", is_admin=True), Audience("u-r", frozenset(), "client", CLIENT), False, True),
        (Viewer("u-r"), Audience("u-r", frozenset(), "client", CLIENT), False, True),
        (Viewer("u-cc"), Audience("u-r", frozenset({"u-cc"}), "client", CLIENT), False, True),
        (Viewer("u-x"), Audience("u-r", frozenset(), "client", CLIENT), True, True),
        (Viewer("u-x"), Audience("u-r", frozenset(), "client", CLIENT), False, False),
        (Viewer("u-x"), Audience("u-r", frozenset(), "supply_point", None), False, True),
    ],
    ids=["admin", "responsible", "cc", "client-access", "no-access", "supply-point"],
)
def test_who_sees_a_ticket(viewer: Viewer, audience: Audience, access: bool, sees: bool) -> None:
    assert can_see(viewer, audience, access) is sees


def test_a_ticket_is_overdue_when_open_after_its_due_date() -> None:
    today = date(2026, 3, 10)
    assert is_overdue(date(2026, 3, 9), "in_progress", today)
    assert not is_overdue(date(2026, 3, 10), "assigned", today)
    assert not is_overdue(date(2026, 3, 1), "closed", today)


# -- work orders -----------------------------------------------------------------------------------------

MANAGER = Actor("u-gt", frozenset({"technical_manager"}))
AGENT = Actor("u-agent", frozenset({"agent"}))
CREATOR = Actor("u-creator", frozenset({"agent"}))
RESPONSIBLE = Actor("u-resp", frozenset({"agent"}))
ADMIN = Actor("u-admin", frozenset({"admin"}))


def order(status: OrderStatus) -> OrderFacts:
    return OrderFacts(status, created_by="u-creator", ticket_responsible_id="u-resp")


def broken(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, str, str]:
    with pytest.raises(RuleBroken) as exc:
        fn(*args, **kwargs)
    return exc.value.kind, exc.value.field, exc.value.rule


def test_the_happy_path_of_a_work_order() -> None:
    moves: list[tuple[Actor, Action, str | None, str | None]] = [
        (CREATOR, "submit", None, None),
        (MANAGER, "approve", "ok", None),
        (RESPONSIBLE, "start", None, None),
        (RESPONSIBLE, "complete", None, "medidor instalado"),
    ]
    status: OrderStatus = "draft"
    for actor, action, comment, report in moves:
        move = decide_transition(actor, order(status), action, comment=comment, completion_report=report)
        assert move.from_status == status
        status = move.to_status
    assert status == "completed"


@pytest.mark.parametrize("actor", [AGENT, CREATOR, RESPONSIBLE, ADMIN], ids=lambda a: a.user_id)
@pytest.mark.parametrize("action", ["approve", "reject"])
def test_only_a_technical_manager_approves_or_rejects(actor: Actor, action: str) -> None:
    assert broken(decide_transition, actor, order("submitted"), action, comment="x") == (
        "forbidden",
        "roles",
        "role_required",
    )


@pytest.mark.parametrize("status", ["draft", "submitted"])
def test_execution_is_impossible_before_approval(status: OrderStatus) -> None:
    for actor in (MANAGER, RESPONSIBLE):
        assert broken(decide_transition, actor, order(status), "start") == (
            "conflict",
            "status",
            "approval_required",
        )
    assert broken(decide_transition, MANAGER, order("rejected"), "start")[2] == "invalid_transition"


@pytest.mark.parametrize("action", ["approve", "reject", "cancel"])
def test_approval_rejection_and_cancellation_need_a_comment(action: str) -> None:
    assert broken(decide_transition, MANAGER, order("submitted"), action, comment="  ") == (
        "invalid",
        "comment",
        "comment_required",
    )


def test_completion_needs_a_report() -> None:
    assert (
        broken(decide_transition, MANAGER, order("in_execution"), "complete")[2]
        == "completion_report_required"
    )


def test_every_transition_from_a_final_state_is_refused() -> None:
    for status in ("rejected", "completed", "cancelled"):
        for action in TRANSITIONS:
            kind, _, rule = broken(
                decide_transition, MANAGER, order(status), action, comment="c", completion_report="r"
            )
            assert (kind, rule) == ("conflict", "invalid_transition")


def test_who_may_do_what() -> None:
    assert may(CREATOR, "cancel", order("submitted")) and not may(CREATOR, "cancel", order("approved"))
    assert may(RESPONSIBLE, "start", order("approved")) and not may(AGENT, "start", order("approved"))
    assert may(ADMIN, "complete", order("in_execution")) and not may(ADMIN, "approve", order("submitted"))
    assert not may(AGENT, "submit", order("draft"))
    assert broken(check_edit, AGENT, order("draft"))[0] == "forbidden"
    assert broken(check_edit, CREATOR, order("submitted"))[2] == "not_a_draft"
    check_edit(CREATOR, order("draft"))


def test_a_work_order_needs_a_technical_open_ticket_and_a_location() -> None:
    ok: dict[str, Any] = {
        "ticket_status": "assigned",
        "nic": "3012345",
        "address": None,
        "technical_areas": ["Gerencia Técnica"],
    }
    check_new_order(ticket_area="GERENCIA TECNICA", **ok)
    assert broken(check_new_order, ticket_area="Comercial", **ok)[2] == "ticket_not_technical"
    assert broken(check_new_order, ticket_area="Gerencia Técnica", **{**ok, "ticket_status": "closed"})[
        2
    ] == ("ticket_closed")
    assert broken(check_new_order, ticket_area="Gerencia Técnica", **{**ok, "nic": " "})[1:] == (
        "location",
        "location_required",
    )
    assert is_technical_area("  gerencia   técnica ", ["Gerencia Técnica"])


def test_only_an_approved_order_is_printed() -> None:
    printable: tuple[OrderStatus, ...] = ("approved", "in_execution", "completed")
    for status in printable:
        check_printable(status)
    for status in ("draft", "submitted", "rejected", "cancelled"):
        assert broken(check_printable, status)[2] == "approval_required"
