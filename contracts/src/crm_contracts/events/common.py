"""Small value types shared by several events."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SubjectKind = Literal["client", "supply_point"]


class Person(BaseModel):
    """A staff member as other services need to see them (no roles, no secrets)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: str = Field(description="Stable staff user id (the JWT `sub`).", examples=["u-jperez"])
    name: str = Field(description="Full name.", examples=["Juana Pérez"])
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="Work email.")
    area: str = Field(description="Organisational area.", examples=["Gerencia Técnica"])


class Subject(BaseModel):
    """Who an attention is about: a CRM client or a FACTELEC supply point (suministro)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: SubjectKind = Field(
        description="`client` (prospect or stakeholder) or `supply_point` (suministro)."
    )
    client_id: uuid.UUID | None = Field(default=None, description="Set when kind is `client`.")
    nic: str | None = Field(default=None, description="Supply point NIC, set when kind is `supply_point`.")
    display_name: str = Field(description="Client name or supply point holder, for messages and reports.")
