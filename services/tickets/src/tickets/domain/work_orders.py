"""Technical work orders (órdenes de trabajo técnicas): the state machine and who may move it.

    draft -> submitted -> approved -> in_execution -> completed
                       \\-> rejected
    draft | submitted | approved | in_execution -> cancelled

- A work order hangs on a ticket whose responsible area is a technical area (Gerencia Técnica by default)
  and that is not closed; it names a supply point (NIC) and/or an address.
- Only a technical manager approves or rejects, and says why (a comment).
- Execution is impossible before approval; completion needs the crew's report; cancelling needs a reason.
- Who may act: the creator edits and submits a draft and may cancel it until it is approved; the ticket's
  responsible person submits, starts and completes; a technical manager does everything; an admin
  everything but the approval decision.

Checks run in this order: who (403), the state (409), then the input (422).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from tickets.domain.errors import RuleBroken

Status = Literal["draft", "submitted", "approved", "rejected", "in_execution", "completed", "cancelled"]
STATUSES: tuple[Status, ...] = (
    "draft",
    "submitted",
    "approved",
    "rejected",
    "in_execution",
    "completed",
    "cancelled",
)
WorkType = Literal["inspection", "meter_change", "reconnection", "line_work", "other"]
WORK_TYPES: tuple[WorkType, ...] = ("inspection", "meter_change", "reconnection", "line_work", "other")
Action = Literal["submit", "approve", "reject", "start", "complete", "cancel"]

TECHNICAL_MANAGER = "technical_manager"
ADMIN = "admin"

# action -> (statuses it starts from, status it leads to)
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    "submit": (frozenset({"draft"}), "submitted"),
    "approve": (frozenset({"submitted"}), "approved"),
    "reject": (frozenset({"submitted"}), "rejected"),
    "start": (frozenset({"approved"}), "in_execution"),
    "complete": (frozenset({"in_execution"}), "completed"),
    "cancel": (frozenset({"draft", "submitted", "approved", "in_execution"}), "cancelled"),
}
FINAL: frozenset[Status] = frozenset({"rejected", "completed", "cancelled"})
# The field crew may print an order once it is approved.
PRINTABLE: frozenset[Status] = frozenset({"approved", "in_execution", "completed"})
NEEDS_COMMENT: frozenset[Action] = frozenset({"approve", "reject", "cancel"})


@dataclass(frozen=True)
class Actor:
    """The caller, as the work-order rules see them."""

    user_id: str
    roles: frozenset[str]

    @property
    def is_manager(self) -> bool:
        return TECHNICAL_MANAGER in self.roles

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles


@dataclass(frozen=True)
class OrderFacts:
    """What the rules need of a work order."""

    status: Status
    created_by: str
    ticket_responsible_id: str


def normalize_area(area: str) -> str:
    """Areas compare without case or accents: 'Gerencia Técnica' is 'GERENCIA TECNICA'."""
    decomposed = unicodedata.normalize("NFKD", area)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def is_technical_area(area: str, technical_areas: Iterable[str]) -> bool:
    return normalize_area(area) in {normalize_area(a) for a in technical_areas}


def check_new_order(
    *,
    ticket_area: str,
    ticket_status: str,
    nic: str | None,
    address: str | None,
    technical_areas: Iterable[str],
) -> None:
    """A work order can be attached to this ticket with this location."""
    if not is_technical_area(ticket_area, technical_areas):
        raise RuleBroken(
            "invalid",
            "ticket_id",
            "ticket_not_technical",
            f"work orders are attached to tickets of the technical department; this ticket's responsible "
            f"area is {ticket_area!r}",
        )
    if ticket_status == "closed":
        raise RuleBroken("conflict", "ticket_id", "ticket_closed", "the ticket is closed")
    check_location(nic, address)


def check_location(nic: str | None, address: str | None) -> None:
    if not (nic or "").strip() and not (address or "").strip():
        raise RuleBroken(
            "invalid", "location", "location_required", "a work order needs a supply point NIC or an address"
        )


def may_edit(actor: Actor, order: OrderFacts) -> bool:
    return actor.is_manager or actor.is_admin or actor.user_id == order.created_by


def check_edit(actor: Actor, order: OrderFacts) -> None:
    if not may_edit(actor, order):
        raise RuleBroken(
            "forbidden", "", "not_allowed", "only its creator or a technical manager may edit a work order"
        )
    if order.status != "draft":
        raise RuleBroken(
            "conflict", "status", "not_a_draft", f"only a draft can be edited; this order is {order.status}"
        )


def may(actor: Actor, action: Action, order: OrderFacts) -> bool:
    """Who may take ``action`` (whatever the state)."""
    if action in ("approve", "reject"):
        return actor.is_manager
    if actor.is_manager or actor.is_admin:
        return True
    is_creator = actor.user_id == order.created_by
    is_responsible = actor.user_id == order.ticket_responsible_id
    if action == "submit":
        return is_creator or is_responsible
    if action in ("start", "complete"):
        return is_responsible
    # cancel: the creator may withdraw their order until it is approved.
    return is_creator and order.status in ("draft", "submitted")


WHO = {
    "approve": "only a technical manager may approve a work order",
    "reject": "only a technical manager may reject a work order",
    "submit": "only the creator, the ticket's responsible person or a technical manager may submit it",
    "start": "only the ticket's responsible person or a technical manager may start the execution",
    "complete": "only the ticket's responsible person or a technical manager may complete it",
    "cancel": "only a technical manager may cancel an approved order (its creator may withdraw it before)",
}


@dataclass(frozen=True)
class Move:
    action: Action
    from_status: Status
    to_status: Status
    comment: str | None
    completion_report: str | None


def decide_transition(
    actor: Actor,
    order: OrderFacts,
    action: Action,
    *,
    comment: str | None = None,
    completion_report: str | None = None,
) -> Move:
    """The move ``action`` makes on ``order``, or the rule it breaks."""
    sources, target = TRANSITIONS[action]
    if not may(actor, action, order):
        rule = "role_required" if action in ("approve", "reject") else "not_allowed"
        raise RuleBroken("forbidden", "roles" if rule == "role_required" else "", rule, WHO[action])
    if order.status not in sources:
        if action == "start" and order.status in ("draft", "submitted"):
            raise RuleBroken(
                "conflict",
                "status",
                "approval_required",
                f"execution is impossible before approval; this order is {order.status}",
            )
        raise RuleBroken(
            "conflict",
            "status",
            "invalid_transition",
            f"cannot {action} an order that is {order.status}",
        )
    comment = (comment or "").strip() or None
    if action in NEEDS_COMMENT and comment is None:
        raise RuleBroken("invalid", "comment", "comment_required", f"a comment is required to {action}")
    report = (completion_report or "").strip() or None
    if action == "complete" and report is None:
        raise RuleBroken(
            "invalid",
            "completion_report",
            "completion_report_required",
            "a completed order needs the crew's completion report",
        )
    return Move(action, order.status, target, comment, report if action == "complete" else None)


def check_printable(status: Status) -> None:
    if status not in PRINTABLE:
        raise RuleBroken(
            "conflict",
            "status",
            "approval_required",
            f"only an approved order can be printed for the field crew; this order is {status}",
        )


def can_see_all_orders(actor: Actor) -> bool:
    """Admins and technical managers see every work order; others see those of the tickets they see."""
    return actor.is_admin or actor.is_manager
