"""The topic registry: every topic, its key, partitions, retention, producer, consumers and events.

Deployment (local stack, compose, Strimzi KafkaTopic resources) is generated from this table, so it is
the only place a topic is declared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from crm_contracts.envelope import EventModel
from crm_contracts.events.attentions import AttentionClosed, AttentionOpened, EventClosed, EventOpened
from crm_contracts.events.clients import ClientAccessGranted, ClientAccessRevoked, ClientUpserted
from crm_contracts.events.comanda import ComandaTicketStatusChanged
from crm_contracts.events.factelec import SupplyPointRetired, SupplyPointUpserted
from crm_contracts.events.staff import StaffMemberUpserted
from crm_contracts.events.tickets import (
    TicketAssigned,
    TicketClosed,
    TicketReopened,
    TicketRequested,
    TicketStatusChanged,
    WorkOrderChanged,
)

DAY_MS = 24 * 3600 * 1000
FOREVER = -1


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    partitions: int
    producer: str
    consumers: tuple[str, ...]
    events: tuple[type[EventModel], ...]
    description: str
    cleanup_policy: Literal["delete", "compact"] = "delete"
    retention_ms: int = 30 * DAY_MS
    configs: dict[str, str] = field(default_factory=dict)

    def kafka_configs(self) -> dict[str, str]:
        return {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms), **self.configs}


TOPICS: tuple[Topic, ...] = (
    Topic(
        name="attentions.staff.v1",
        key="user_id",
        partitions=3,
        producer="attentions",
        consumers=("tickets", "notifications", "reports"),
        events=(StaffMemberUpserted,),
        cleanup_policy="compact",
        retention_ms=FOREVER,
        description="Staff directory: name, email, area and manager of every staff member.",
    ),
    Topic(
        name="attentions.clients.v1",
        key="client_id",
        partitions=3,
        producer="attentions",
        consumers=("tickets", "reports"),
        events=(ClientUpserted, ClientAccessGranted, ClientAccessRevoked),
        retention_ms=FOREVER,
        description="Prospects and stakeholders, and who may see each of them (access list).",
    ),
    Topic(
        name="attentions.attentions.v1",
        key="attention_id",
        partitions=6,
        producer="attentions",
        consumers=("reports",),
        events=(AttentionOpened, AttentionClosed),
        retention_ms=FOREVER,
        description="Attentions (atenciones) opened and closed.",
    ),
    Topic(
        name="attentions.events.v1",
        key="event_id",
        partitions=6,
        producer="attentions",
        consumers=("notifications", "reports"),
        events=(EventOpened, EventClosed),
        retention_ms=FOREVER,
        description="Events (eventos, macro-tasks) opened and closed.",
    ),
    Topic(
        name="attentions.ticket-requests.v1",
        key="ticket_id",
        partitions=6,
        producer="attentions",
        consumers=("tickets",),
        events=(TicketRequested,),
        retention_ms=FOREVER,
        description="Tickets accepted on an open event; the tickets service materializes them.",
    ),
    Topic(
        name="tickets.tickets.v1",
        key="ticket_id",
        partitions=6,
        producer="tickets",
        consumers=("attentions", "notifications", "reports", "comanda"),
        events=(TicketAssigned, TicketStatusChanged, TicketClosed, TicketReopened),
        retention_ms=FOREVER,
        description="Ticket lifecycle. `tickets.ticket.assigned` is what COMANDA consumes.",
    ),
    Topic(
        name="tickets.work-orders.v1",
        key="work_order_id",
        partitions=3,
        producer="tickets",
        consumers=("reports",),
        events=(WorkOrderChanged,),
        retention_ms=FOREVER,
        description="Technical work orders through draft, approval, execution and completion.",
    ),
    Topic(
        name="comanda.ticket-status.v1",
        key="ticket_id",
        partitions=6,
        producer="comanda",
        consumers=("tickets",),
        events=(ComandaTicketStatusChanged,),
        retention_ms=30 * DAY_MS,
        description="COMANDA -> CRM: ticket accepted, in progress, closed or reopened.",
    ),
    Topic(
        name="factelec.supply-points.v1",
        key="nic",
        partitions=6,
        producer="factelec-sync",
        consumers=("attentions", "reports"),
        events=(SupplyPointUpserted, SupplyPointRetired),
        cleanup_policy="compact",
        retention_ms=FOREVER,
        description="Supply points (suministros) from FACTELEC, latest state per NIC.",
    ),
)

EVENT_MODELS: dict[tuple[str, int], type[EventModel]] = {
    (model.event_type, model.version): model for topic in TOPICS for model in topic.events
}
_TOPIC_OF_TYPE: dict[str, Topic] = {model.event_type: topic for topic in TOPICS for model in topic.events}
_TOPIC_BY_NAME: dict[str, Topic] = {topic.name: topic for topic in TOPICS}


def model_for(event_type: str, version: int) -> type[EventModel] | None:
    return EVENT_MODELS.get((event_type, version))


def topic_for(event: EventModel | type[EventModel]) -> Topic:
    """The topic an event is published on."""
    return _TOPIC_OF_TYPE[event.event_type]


def topic_named(name: str) -> Topic:
    return _TOPIC_BY_NAME[name]


def deadletter_topic(group: str) -> str:
    """Dead letters of one consumer group go to their own topic, so each service replays its own."""
    return f"deadletter.{group}.v1"
