"""The envelope: what survives the wire, and the compatibility rules of docs/contracts.md."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from contracts.examples import EXAMPLE_MOMENT, example_event, required_fields
from crm_contracts.envelope import Envelope, EventModel, new_envelope
from crm_contracts.events.comanda import ComandaTicketStatusChanged
from crm_contracts.registry import TOPICS
from pydantic import ValidationError

MODELS = [pytest.param(model, id=model.event_type) for topic in TOPICS for model in topic.events]


def _wire(model: type[EventModel], **envelope_fields: Any) -> tuple[Envelope[Any], dict[str, Any]]:
    """An envelope of an example event, and the JSON object it travels as."""
    envelope = new_envelope(
        example_event(model),
        producer="tests",
        correlation_id=uuid.uuid4(),
        causation_id=uuid.uuid4(),
        occurred_at=EXAMPLE_MOMENT,
        **envelope_fields,
    )
    return envelope, json.loads(envelope.model_dump_json())


def _read(model: type[EventModel], document: dict[str, Any]) -> Envelope[Any]:
    """What a consumer does with a record's value."""
    return Envelope[model].model_validate_json(json.dumps(document))


@pytest.mark.parametrize("model", MODELS)
def test_an_envelope_survives_the_trip_through_json(model: type[EventModel]) -> None:
    envelope, document = _wire(model)
    received = _read(model, document)
    assert received == envelope
    assert isinstance(received.data, model)
    assert received.data == envelope.data


@pytest.mark.parametrize("model", MODELS)
def test_the_envelope_names_the_type_version_and_key_of_its_event(model: type[EventModel]) -> None:
    event = example_event(model)
    envelope = new_envelope(event, producer="tests")
    assert envelope.type == model.event_type
    assert envelope.schema_version == model.version
    assert envelope.partition_key == event.partition_key()
    assert envelope.producer == "tests"
    assert envelope.occurred_at.tzinfo is not None


def test_every_envelope_gets_its_own_event_id() -> None:
    event = example_event(ComandaTicketStatusChanged)
    assert (
        new_envelope(event, producer="comanda").event_id != new_envelope(event, producer="comanda").event_id
    )


@pytest.mark.parametrize("model", MODELS)
def test_an_additive_field_is_ignored_by_an_older_consumer(model: type[EventModel]) -> None:
    envelope, document = _wire(model)
    document["data"]["field_added_in_a_later_release"] = {"anything": [1, 2, 3]}
    received = _read(model, document)
    assert received.data == envelope.data
    assert "field_added_in_a_later_release" not in received.data.model_dump()


def test_an_additive_envelope_field_is_ignored_too() -> None:
    envelope, document = _wire(ComandaTicketStatusChanged)
    document["tenant"] = "edesal"
    assert _read(ComandaTicketStatusChanged, document) == envelope


@pytest.mark.parametrize("model", MODELS)
def test_a_payload_missing_a_required_field_is_rejected(model: type[EventModel]) -> None:
    _, document = _wire(model)
    for field in required_fields(model):
        broken = json.loads(json.dumps(document))
        del broken["data"][field]
        with pytest.raises(ValidationError, match=field):
            _read(model, broken)


@pytest.mark.parametrize("field", ["event_id", "type", "schema_version", "occurred_at", "producer", "data"])
def test_an_envelope_missing_a_required_field_is_rejected(field: str) -> None:
    _, document = _wire(ComandaTicketStatusChanged)
    del document[field]
    with pytest.raises(ValidationError, match=field):
        _read(ComandaTicketStatusChanged, document)


def test_an_envelope_without_a_time_zone_is_rejected() -> None:
    _, document = _wire(ComandaTicketStatusChanged)
    document["occurred_at"] = datetime(2026, 3, 2, 14, 30).isoformat()
    with pytest.raises(ValidationError, match="occurred_at"):
        _read(ComandaTicketStatusChanged, document)


def test_a_comanda_status_change_sequence_starts_at_one() -> None:
    _, document = _wire(ComandaTicketStatusChanged)
    document["data"]["sequence"] = 0
    with pytest.raises(ValidationError, match="sequence"):
        _read(ComandaTicketStatusChanged, document)


def test_a_comanda_status_change_is_keyed_by_the_crm_ticket_id() -> None:
    event = example_event(ComandaTicketStatusChanged, sequence=7, status="in_progress")
    envelope = new_envelope(event, producer="comanda")
    assert envelope.partition_key == str(event.ticket_id)
    assert envelope.type == "comanda.ticket.status_changed"
