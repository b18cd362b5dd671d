"""COMANDA -> CRM: status changes of tickets, in COMANDA's own words.

COMANDA is another team's system. Its event id and a per-ticket sequence let the CRM drop duplicates and
ignore an older status that arrives after a newer one.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, Field

from crm_contracts.envelope import EventModel

ComandaStatus = Literal["accepted", "in_progress", "closed", "reopened"]


class ComandaTicketStatusChanged(EventModel):
    """A person changed a ticket's status in COMANDA."""

    event_type = "comanda.ticket.status_changed"

    comanda_event_id: str = Field(description="COMANDA's own id of this change (unique).")
    ticket_id: uuid.UUID = Field(description="The CRM ticket id received in `tickets.ticket.assigned`.")
    sequence: int = Field(ge=1, description="Per-ticket sequence, strictly increasing with each change.")
    status: ComandaStatus
    changed_at: AwareDatetime
    changed_by: str | None = Field(default=None, description="COMANDA user who made the change.")
    resolution: str | None = Field(default=None, description="Required when status is `closed`.")
    reason: str | None = Field(default=None, description="Why it was reopened.")

    def partition_key(self) -> str:
        return str(self.ticket_id)
