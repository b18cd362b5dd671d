"""The consumer lag gauge, set after each batch from the last offset seen per partition (unit test)."""

from __future__ import annotations

import uuid
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from crmkit import metrics
from crmkit.consumer import EventConsumer, Subscriptions
from crmkit.settings import KitSettings


class _Highwaters:
    def __init__(self, ends: dict[TopicPartition, int]) -> None:
        self.ends = ends

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends.get(tp)


def _record(topic: str, partition: int, offset: int) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(topic, partition, offset, 0, 0, b"k", b"{}", None, 1, 2, ())


def _lag(topic: str, partition: int) -> float:
    return metrics.CONSUMER_LAG.labels(topic, str(partition))._value.get()


def test_the_lag_of_each_partition_is_its_end_minus_the_last_offset_of_the_batch():
    topic = f"lag-{uuid.uuid4().hex[:8]}"
    records = [_record(topic, 0, 10), _record(topic, 1, 3), _record(topic, 0, 11), _record(topic, 1, 4)]
    ends = {TopicPartition(topic, 0): 20, TopicPartition(topic, 1): 5}  # partition 2: no high water yet
    consumer = EventConsumer(KitSettings(service_name="unit"), None, Subscriptions(), None, None)  # type: ignore[arg-type,unused-ignore]
    consumer._observe_lag([*records, _record(topic, 2, 0)], _Highwaters(ends))
    assert (_lag(topic, 0), _lag(topic, 1)) == (8, 0)
    assert (topic, "2") not in {
        (s.labels["topic"], s.labels["partition"]) for m in metrics.CONSUMER_LAG.collect() for s in m.samples
    }
