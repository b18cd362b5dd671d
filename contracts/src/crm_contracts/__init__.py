"""Everything that crosses a service boundary of the EDESAL CRM: envelope, event models, topics."""

from crm_contracts.envelope import Envelope, EventModel, new_envelope
from crm_contracts.registry import EVENT_MODELS, TOPICS, Topic, model_for, topic_for

__all__ = [
    "EVENT_MODELS",
    "TOPICS",
    "Envelope",
    "EventModel",
    "Topic",
    "model_for",
    "new_envelope",
    "topic_for",
]
