"""FACTELEC on PostgreSQL, through asyncpg: the configured queries, prepared once, on a read-only session."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from factelec_sync.domain.mapping import ConfigurationError
from factelec_sync.domain.watermark import Watermark
from factelec_sync.source.base import SourceRow

# `:name` outside of `::type` casts. (A literal containing `:word` would be taken for a parameter: write
# such a literal with a cast or a concatenation instead.)
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
FETCH_PARAMETERS = ("after_ts", "after_key", "until_ts", "limit")
COUNT_PARAMETERS = ("after_ts", "after_key", "until_ts")
NO_LIMIT = 2**62


def compile_named(sql: str, allowed: Sequence[str]) -> tuple[str, list[str]]:
    """``:name`` parameters to asyncpg's ``$n``; returns the SQL and the names in ``$n`` order."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in allowed:
            raise ConfigurationError(f"unknown parameter :{name} in a source query (allowed: {allowed})")
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return _NAMED.sub(number, sql), order


class PostgresSupplyPointSource:
    def __init__(
        self,
        dsn: str,
        query: str,
        count_query: str | None = None,
        statement_timeout_s: float = 300.0,
        timezone: str = "UTC",
    ) -> None:
        self.dsn = dsn
        self.query, self._query_params = compile_named(query, FETCH_PARAMETERS)
        missing = [p for p in FETCH_PARAMETERS if p not in self._query_params]
        if missing:
            raise ConfigurationError(f"the source query must use {', '.join(':' + p for p in missing)}")
        self.count_query: str | None = None
        self._count_params: list[str] = []
        if count_query and count_query.strip():
            self.count_query, self._count_params = compile_named(count_query, COUNT_PARAMETERS)
        self.statement_timeout_s = statement_timeout_s
        self.zone: tzinfo = ZoneInfo(timezone)
        # Set when the update timestamp is a `timestamp` (without time zone) column: the watermark (aware)
        # is then bound as the source's local time.
        self._naive_timestamps = False
        self._conn: asyncpg.Connection | None = None
        self._fetch: Any = None
        self._count: Any = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        self._conn = await asyncpg.connect(
            self.dsn,
            server_settings={
                # The sync never writes to FACTELEC; the session says so. A scan sees one snapshot.
                "default_transaction_read_only": "on",
                "default_transaction_isolation": "repeatable read",
                "statement_timeout": str(int(self.statement_timeout_s * 1000)),
                "application_name": "crm-factelec-sync",
                # Plan each execution with its parameters: a generic plan for "(ts, key) > ($1, $2)"
                # cannot know whether that is ten rows or all of them.
                "plan_cache_mode": "force_custom_plan",
                # A scan reads its whole result: plan for the total, not for the first rows.
                "cursor_tuple_fraction": "1.0",
            },
        )
        self._fetch = await self._conn.prepare(self.query)
        types = dict(zip(self._query_params, (t.name for t in self._fetch.get_parameters()), strict=True))
        self._naive_timestamps = types.get("after_ts") == "timestamp"
        if self.count_query:
            self._count = await self._conn.prepare(self.count_query)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    def _connection(self) -> asyncpg.Connection:
        if self._conn is None:
            raise RuntimeError("the source is not open")
        return self._conn

    async def now(self) -> datetime:
        async with self._lock:
            value = await self._connection().fetchval("SELECT now()")
        assert isinstance(value, datetime)
        return value

    def _ts(self, value: datetime) -> datetime:
        if self._naive_timestamps:
            try:
                return value.astimezone(self.zone).replace(tzinfo=None)
            except OverflowError:  # the initial watermark, year 1, is before year 1 west of Greenwich
                return datetime.min
        return value

    @staticmethod
    def _args(names: Sequence[str], values: dict[str, Any]) -> list[Any]:
        return [values[name] for name in names]

    async def fetch_after(self, after: Watermark, until: datetime, limit: int) -> Sequence[SourceRow]:
        values = {
            "after_ts": self._ts(after.ts),
            "after_key": after.key,
            "until_ts": self._ts(until),
            "limit": limit,
        }
        async with self._lock:
            self._connection()
            rows: list[asyncpg.Record] = await self._fetch.fetch(*self._args(self._query_params, values))
        return rows

    async def scan(
        self, after: Watermark, until: datetime, page_size: int
    ) -> AsyncIterator[Sequence[SourceRow]]:
        """One query (LIMIT lifted) read through a server-side cursor in one read-only, repeatable-read
        transaction: PostgreSQL picks one plan for the whole range (for a full load: one sort instead of
        a random index walk per page) and the scan sees one snapshot."""
        values = {
            "after_ts": self._ts(after.ts),
            "after_key": after.key,
            "until_ts": self._ts(until),
            "limit": NO_LIMIT,
        }
        async with self._lock:
            conn = self._connection()
            # (Repeatable read comes from the session's default: asking asyncpg for the isolation level
            # here fails once a statement was prepared on the connection.)
            async with conn.transaction(readonly=True):
                cursor = await self._fetch.cursor(*self._args(self._query_params, values))
                while True:
                    rows: list[asyncpg.Record] = await cursor.fetch(page_size)
                    if not rows:
                        return
                    yield rows
                    if len(rows) < page_size:
                        return

    async def count_after(self, after: Watermark, until: datetime) -> int | None:
        if self._count is None:
            return None
        values = {"after_ts": self._ts(after.ts), "after_key": after.key, "until_ts": self._ts(until)}
        async with self._lock:
            self._connection()
            count = await self._count.fetchval(*self._args(self._count_params, values))
        return int(count)
