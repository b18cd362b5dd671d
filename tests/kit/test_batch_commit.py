"""A batch's acknowledgement commits the offsets after its own records, on its own partitions only."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from crmkit.worker import _CommitsItsBatch


class RecordingConsumer:
    def __init__(self) -> None:
        self.commits: list[Any] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.client_id = "c-1"

    async def commit(self, offsets: Any = None) -> None:
        self.commits.append(offsets)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))


def record(topic: str, partition: int, offset: int) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(topic, partition, offset, 0, 0, None, b"{}", None, 0, 2, ())


async def test_commit_names_the_batch_partitions_and_the_offset_after_each_last_record() -> None:
    consumer = RecordingConsumer()
    batch = (record("t", 0, 5), record("t", 2, 9), record("t", 0, 7), record("u", 0, 1), record("t", 0, 6))
    view = _CommitsItsBatch(consumer, batch)
    await view.commit()
    # Never the plain commit(), which would commit every assigned partition's position.
    assert consumer.commits == [
        {TopicPartition("t", 0): 8, TopicPartition("t", 2): 10, TopicPartition("u", 0): 2}
    ]
    view.seek(TopicPartition("t", 0), 5)
    assert consumer.seeks == [(TopicPartition("t", 0), 5)]
    assert view.client_id == "c-1"
