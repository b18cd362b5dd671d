"""The checked-in contract docs (contracts/docs/) are what the models generate, and say what they should."""

from __future__ import annotations

import functools
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from contracts.examples import example_event
from crm_contracts.envelope import Envelope, EventModel, new_envelope
from crm_contracts.registry import TOPICS, Topic
from crmkit import contract_docs
from crmkit.outbox import record_headers
from pydantic import BaseModel

DOCS = Path(__file__).resolve().parents[2] / "contracts" / "docs"
MODELS = [pytest.param(model, id=model.event_type) for topic in TOPICS for model in topic.events]


@functools.cache
def _generated() -> dict[str, str]:
    return contract_docs.render()


@functools.cache
def _asyncapi() -> dict[str, Any]:
    document = yaml.safe_load((DOCS / contract_docs.ASYNCAPI_FILE).read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_generated_docs_match_the_models() -> None:
    drift = contract_docs.compare(DOCS, _generated())
    assert not drift, (
        "contracts/docs is out of date with the event models:\n"
        f"{drift.describe()}\n"
        "Run `make contracts-docs` and commit contracts/docs."
    )


@pytest.mark.parametrize("model", MODELS)
def test_every_event_has_the_json_schema_of_its_envelope_checked_in(model: type[EventModel]) -> None:
    path = DOCS / contract_docs.schema_path(model)
    assert path.is_file(), f"{path} is missing: run `make contracts-docs`"
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema == Envelope[model].model_json_schema()
    assert set(Envelope.model_fields) <= set(schema["properties"])
    assert model.__name__ in schema["$defs"]


@pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.name)
def test_the_asyncapi_document_has_a_publisher_and_a_subscriber_per_topic(topic: Topic) -> None:
    document = _asyncapi()
    expected = [f"#/components/schemas/{model.__name__}Envelope" for model in topic.events]
    for role in ("Publisher", "Subscriber"):
        channel = document["channels"][f"{topic.name}:{role}"]
        assert channel["address"] == topic.name
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions
        assert channel["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"] == [topic.cleanup_policy]
        for fact in (topic.description, topic.producer, *topic.consumers, topic.key, topic.cleanup_policy):
            assert fact in channel["description"]
        (reference,) = channel["messages"].values()
        message = document["components"]["messages"][reference["$ref"].rsplit("/", 1)[1]]
        payload = message["payload"]
        refs = [item["$ref"] for item in payload["oneOf"]] if "oneOf" in payload else [payload["$ref"]]
        assert refs == expected


def _descriptions(model: type[BaseModel]) -> dict[str, str]:
    return {name: field.description for name, field in model.model_fields.items() if field.description}


@pytest.mark.parametrize("model", MODELS)
def test_field_descriptions_reach_the_asyncapi_document(model: type[EventModel]) -> None:
    schemas = _asyncapi()["components"]["schemas"]
    envelope = schemas[f"{model.__name__}Envelope"]
    for name, description in _descriptions(Envelope).items():
        assert envelope["properties"][name]["description"] == description
    assert envelope["properties"]["data"]["$ref"] == f"#/components/schemas/{model.__name__}"
    for name, description in _descriptions(model).items():
        assert schemas[model.__name__]["properties"][name]["description"] == description


def _header_names(envelope: Envelope[Any]) -> list[str]:
    """The headers the relay writes next to this envelope (from the outbox row, which copies the envelope)."""
    headers = record_headers(
        event_id=envelope.event_id,
        event_type=envelope.type,
        schema_version=envelope.schema_version,
        producer=envelope.producer,
        correlation_id=envelope.correlation_id,
    )
    return [name for name, _ in headers]


def test_the_documented_record_headers_are_the_ones_the_outbox_writes() -> None:
    documented = [name for name, _, _ in contract_docs.RECORD_HEADERS]
    always = [name for name, _, required in contract_docs.RECORD_HEADERS if required]
    event = example_event(TOPICS[0].events[0])
    assert _header_names(new_envelope(event, producer="tests", correlation_id=uuid.uuid4())) == documented
    assert _header_names(new_envelope(event, producer="tests")) == always


def test_the_topics_table_has_one_row_per_topic() -> None:
    table = (DOCS / contract_docs.TOPICS_FILE).read_text(encoding="utf-8")
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [topic.name for topic in TOPICS]
    for topic in TOPICS:
        for model in topic.events:
            assert f"({contract_docs.schema_path(model)})" in table
