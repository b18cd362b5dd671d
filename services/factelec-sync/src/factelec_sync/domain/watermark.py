"""The watermark: the (update timestamp, source key) of the last source row whose event the broker has
acknowledged, with every row before it in that order.

Paging with ``WHERE (updated_at, key) > (:after_ts, :after_key) ORDER BY updated_at, key`` and moving the
watermark to the last row of a page never skips a row that shares its timestamp with the page's last row:
the key breaks the tie. A timestamp alone would skip (``>``) or repeat forever (``>=``) such rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

# Before every real row: a row comparison (ts, key) > (BEGINNING, NULL) is true for every ts after it, and
# no real row is stamped in year 1. The key is NULL so that the query needs no key type of its own.
BEGINNING = datetime(1, 1, 1, tzinfo=UTC)
# The upper bound of a reconciliation scan: everything.
END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)

SourceKey = int | str | None


@dataclass(frozen=True, slots=True)
class Watermark:
    ts: datetime
    key: SourceKey

    @classmethod
    def initial(cls) -> Watermark:
        return cls(BEGINNING, None)

    @property
    def is_initial(self) -> bool:
        return self.key is None and self.ts == BEGINNING

    def as_json(self) -> dict[str, Any]:
        return {"ts": self.ts.isoformat(), "key": self.key}

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> Watermark:
        if not value:
            return cls.initial()
        return cls(datetime.fromisoformat(value["ts"]), value.get("key"))


class OutOfOrderPage(Exception):
    """The source query returned rows out of watermark order: paging with it could skip rows."""


def _key_before(a: SourceKey, b: SourceKey) -> bool | None:
    """a < b when both keys are numbers; None when the source's own ordering cannot be checked here (text
    keys are ordered by the source's collation, which Python does not know)."""
    if isinstance(a, int) and isinstance(b, int):
        return a < b
    return None


def advance(
    after: Watermark, page: Sequence[tuple[datetime | None, SourceKey]], naive_zone: tzinfo = UTC
) -> Watermark:
    """The watermark after a page of (update timestamp, key) pairs read after ``after``; checks the order.

    Every row must come after ``after`` and after the row before it. A query without the right ORDER BY
    or comparison would otherwise let the watermark jump over rows that were never read. Timestamps
    without a zone (a ``timestamp`` column) are taken in ``naive_zone``.
    """
    if not page:
        return after
    prev_ts, prev_key = after.ts, after.key
    first = after.is_initial
    for ts, key in page:
        if ts is None or key is None:
            raise OutOfOrderPage("the source query returned a row without update timestamp or key")
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=naive_zone).astimezone(UTC)
        if not first:
            if ts < prev_ts:
                raise OutOfOrderPage(
                    f"row ({ts.isoformat()}, {key!r}) comes before ({prev_ts}, {prev_key!r})"
                )
            # Equal timestamps: the key must grow. Text keys are ordered by the source's collation, which
            # Python does not know: for them only a repeated key is caught.
            if ts == prev_ts and (key == prev_key or _key_before(key, prev_key)):
                raise OutOfOrderPage(f"row ({ts.isoformat()}, {key!r}) repeats or precedes the last one")
        first = False
        prev_ts, prev_key = ts, key
    return Watermark(prev_ts, prev_key)


def lag_seconds(watermark: Watermark | None, now: datetime) -> float | None:
    """Seconds between now and the watermark's timestamp (None before the first committed page)."""
    if watermark is None or watermark.is_initial:
        return None
    return max(0.0, (now - watermark.ts).total_seconds())
