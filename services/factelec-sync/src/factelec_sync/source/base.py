"""The one boundary between the sync and FACTELEC's database.

An adapter runs the configured query and returns rows as mappings from result column to value; the
column mapping and every rule about the values stay in ``domain.mapping``. Another database engine (the
billing system moving to Oracle or SQL Server, say) is a new class with these methods, registered in
``source.ADAPTERS``; nothing else changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from factelec_sync.domain.mapping import SourceRow
from factelec_sync.domain.watermark import Watermark

__all__ = ["SourceRow", "SupplyPointSource"]


@runtime_checkable
class SupplyPointSource(Protocol):
    async def open(self) -> None:
        """Connect (called once before use)."""

    async def close(self) -> None: ...

    async def now(self) -> datetime:
        """The source's clock (an aware datetime): the upper bound of a run is taken from it, not from
        this host's clock, because the update timestamps are stamped by the source."""

    async def fetch_after(self, after: Watermark, until: datetime, limit: int) -> Sequence[SourceRow]:
        """Up to ``limit`` rows with (update timestamp, key) after ``after`` and timestamp at most
        ``until``, in (update timestamp, key) order: one keyset page."""

    def scan(self, after: Watermark, until: datetime, page_size: int) -> AsyncIterator[Sequence[SourceRow]]:
        """Every such row, page by page, from one query and one consistent read of the source (when the
        engine can stream a result; an adapter that cannot may page with ``fetch_after``)."""

    async def count_after(self, after: Watermark, until: datetime) -> int | None:
        """How many rows ``fetch_after`` would still return, or None when no count is configured."""
