"""Supply points (suministros) synced from FACTELEC, the billing system. Keyed by NIC on a compacted topic."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from crm_contracts.envelope import EventModel

ConnectionStatus = Literal["connected", "disconnected", "suspended"]


class SupplyPointUpserted(EventModel):
    """The current state of a supply point in FACTELEC."""

    event_type = "factelec.supply_point.upserted"

    nic: str = Field(min_length=1, description="Número de Identificación del Cliente: the supply point id.")
    holder: str = Field(description="Titular: the account holder.")
    address: str
    municipality: str
    department: str
    tariff: str
    meter: str | None = None
    connection_status: ConnectionStatus
    source_updated_at: datetime = Field(description="FACTELEC's update timestamp of the row.")

    def partition_key(self) -> str:
        return self.nic


class SupplyPointRetired(EventModel):
    """The supply point no longer exists in FACTELEC (found by full reconciliation)."""

    event_type = "factelec.supply_point.retired"

    nic: str = Field(min_length=1)
    reason: str

    def partition_key(self) -> str:
        return self.nic
