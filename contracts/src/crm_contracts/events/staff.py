"""Staff directory events, produced by the attentions service (which owns the directory)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crm_contracts.envelope import EventModel

Role = Literal["admin", "agent", "technical_manager"]


class StaffMemberUpserted(EventModel):
    """A staff member was created or changed. Carries the whole record, so the latest event is the truth."""

    event_type = "attentions.staff_member.upserted"

    user_id: str = Field(description="Stable staff user id (the JWT `sub`).")
    name: str
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    area: str = Field(description="Organisational area, e.g. `Gerencia Técnica`.")
    manager_id: str | None = Field(
        default=None, description="User id of this person's manager (escalation chain)."
    )
    roles: list[Role] = Field(default_factory=list)
    active: bool = True

    def partition_key(self) -> str:
        return self.user_id
