"""A sync run: what it did, for the summary, the runs table and the API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

RunKind = Literal["incremental", "full"]
RunStatus = Literal["running", "succeeded", "failed", "interrupted"]


@dataclass
class RunCounters:
    read: int = 0
    published: int = 0
    quarantined: int = 0
    retired: int = 0

    def add(self, other: RunCounters) -> None:
        self.read += other.read
        self.published += other.published
        self.quarantined += other.quarantined
        self.retired += other.retired


@dataclass
class RunSummary:
    run_id: int
    kind: RunKind
    trigger: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    counters: RunCounters = field(default_factory=RunCounters)
    watermark_from: dict[str, Any] | None = None
    watermark_to: dict[str, Any] | None = None
    error: str | None = None

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return max(0.0, (self.finished_at - self.started_at).total_seconds())

    @property
    def rows_per_s(self) -> float | None:
        duration = self.duration_s
        if not duration:
            return None
        return self.counters.read / duration

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        counters = out.pop("counters")
        out.update(counters)
        out["started_at"] = self.started_at.isoformat()
        out["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        out["duration_s"] = None if self.duration_s is None else round(self.duration_s, 3)
        out["rows_per_s"] = None if self.rows_per_s is None else round(self.rows_per_s)
        return out
