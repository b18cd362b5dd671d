"""Client (prospect / stakeholder) events and access-list changes, produced by the attentions service."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from crm_contracts.envelope import EventModel

ClientKind = Literal["prospect", "stakeholder"]


class ClientUpserted(EventModel):
    """A client was registered or its details changed. Carries the whole record."""

    event_type = "attentions.client.upserted"

    client_id: uuid.UUID
    code: str = Field(examples=["CLI-000042"])
    kind: ClientKind
    internal: bool = Field(
        default=False, description="An internal department (a stakeholder marked internal)."
    )
    name: str
    tax_id: str | None = Field(default=None, description="NIT.")
    sector: str | None = None

    def partition_key(self) -> str:
        return str(self.client_id)


class ClientAccessGranted(EventModel):
    """A staff member was added to a client's access list ("+ Agregar usuario", or as its creator)."""

    event_type = "attentions.client_access.granted"

    client_id: uuid.UUID
    user_id: str
    granted_by: str

    def partition_key(self) -> str:
        return str(self.client_id)


class ClientAccessRevoked(EventModel):
    """A staff member was removed from a client's access list; they must stop seeing it at once."""

    event_type = "attentions.client_access.revoked"

    client_id: uuid.UUID
    user_id: str
    revoked_by: str

    def partition_key(self) -> str:
        return str(self.client_id)
