"""The topic registry is consistent: names, one topic per event type, keys, look-ups, dead letters."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from contracts.examples import example_event
from crm_contracts.envelope import EventModel
from crm_contracts.registry import (
    EVENT_MODELS,
    TOPICS,
    Topic,
    deadletter_topic,
    model_for,
    topic_for,
    topic_named,
)

TOPIC_NAME = re.compile(r"^(?P<owner>[a-z][a-z0-9-]*)\.(?P<name>[a-z][a-z0-9-]*)\.v(?P<version>[1-9][0-9]*)$")
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")

TOPIC_EVENTS = [
    pytest.param(topic, model, id=f"{topic.name}:{model.event_type}")
    for topic in TOPICS
    for model in topic.events
]
ALL_MODELS = [model for topic in TOPICS for model in topic.events]


def test_every_event_type_is_carried_by_exactly_one_topic() -> None:
    # Every version of a type travels on the same topic: topic_for() and the outbox look topics up by type.
    topics_of: dict[str, set[str]] = {}
    for topic in TOPICS:
        for model in topic.events:
            topics_of.setdefault(model.event_type, set()).add(topic.name)
    assert {event_type: names for event_type, names in topics_of.items() if len(names) > 1} == {}


def test_a_version_of_an_event_type_is_declared_once() -> None:
    counts = Counter((model.event_type, model.version) for model in ALL_MODELS)
    assert [key for key, n in counts.items() if n > 1] == []


def test_topic_names_are_unique() -> None:
    counts = Counter(topic.name for topic in TOPICS)
    assert [name for name, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.name)
def test_a_topic_is_named_owner_name_version_after_the_system_that_produces_it(topic: Topic) -> None:
    match = TOPIC_NAME.match(topic.name)
    assert match, f"{topic.name} is not <owner>.<name>.v<N>"
    assert topic.producer.startswith(match["owner"]), (
        f"{topic.name} is not owned by its producer {topic.producer}"
    )


@pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.name)
def test_a_topic_is_declared_completely(topic: Topic) -> None:
    assert topic.events, "a topic carries at least one event type"
    assert topic.partitions >= 1
    assert topic.consumers, "a topic nobody consumes should not exist"
    assert topic.producer not in topic.consumers
    assert topic.description
    assert topic.kafka_configs()["cleanup.policy"] == topic.cleanup_policy


@pytest.mark.parametrize(("topic", "model"), TOPIC_EVENTS)
def test_an_event_type_is_named_after_the_owner_of_its_topic(topic: Topic, model: type[EventModel]) -> None:
    assert EVENT_TYPE.match(model.event_type), f"{model.event_type} is not <owner>.<entity>.<fact>"
    assert model.event_type.split(".")[0] == topic.name.split(".")[0]
    assert model.version >= 1


@pytest.mark.parametrize(("topic", "model"), TOPIC_EVENTS)
def test_every_event_is_partitioned_by_the_key_its_topic_documents(
    topic: Topic, model: type[EventModel]
) -> None:
    assert topic.key in model.model_fields, f"{model.__name__} has no field {topic.key}"
    event = example_event(model)
    assert event.partition_key() == str(getattr(event, topic.key))


@pytest.mark.parametrize(("topic", "model"), TOPIC_EVENTS)
def test_an_event_model_is_found_by_its_type_and_version(topic: Topic, model: type[EventModel]) -> None:
    assert model_for(model.event_type, model.version) is model
    assert EVENT_MODELS[(model.event_type, model.version)] is model
    assert topic_for(model) is topic
    assert topic_for(example_event(model)) is topic
    assert topic_named(topic.name) is topic


def test_every_event_model_of_the_registry_is_in_the_lookup_table() -> None:
    assert len(EVENT_MODELS) == len(ALL_MODELS)


def test_an_unknown_type_or_version_has_no_model() -> None:
    some = ALL_MODELS[0]
    assert model_for("nobody.nothing.happened", 1) is None
    assert model_for(some.event_type, some.version + 1) is None
    with pytest.raises(KeyError):
        topic_named("nobody.nothing.v1")


def test_dead_letters_of_each_consumer_group_go_to_their_own_topic() -> None:
    consumers = sorted({consumer for topic in TOPICS for consumer in topic.consumers})
    names = [deadletter_topic(group) for group in consumers]
    assert deadletter_topic("tickets") == "deadletter.tickets.v1"
    assert len(set(names)) == len(names)
    assert all(TOPIC_NAME.match(name) for name in names)
    assert not set(names) & {topic.name for topic in TOPICS}
