"""SQL behind small functions (asyncpg, no ORM). Each module owns the tables of one resource.

Functions take the connection of the caller's transaction; they never open transactions themselves, so the
API decides what commits together (a change, its audit rows and its outbox events).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import asyncpg


def jsonable(value: Any) -> Any:
    """A record or value as plain JSON types (for audit snapshots)."""
    if isinstance(value, asyncpg.Record | Mapping):
        return {k: jsonable(v) for k, v in dict(value).items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def row(record: asyncpg.Record | None) -> dict[str, Any] | None:
    return dict(record) if record is not None else None


def like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with the LIKE wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Filters:
    """A WHERE clause built from optional filters, numbering the placeholders as values are added."""

    def __init__(self, first: str, *args: Any) -> None:
        self.args: list[Any] = list(args)
        self.where = [first]

    def add(self, condition: str, value: Any) -> None:
        """``condition`` with ``?`` for the value (every ``?`` stands for the same value)."""
        self.args.append(value)
        self.where.append(condition.replace("?", f"${len(self.args)}"))

    @property
    def clause(self) -> str:
        return " AND ".join(self.where)

    def page(self) -> str:
        """Placeholders for LIMIT and OFFSET, passed after ``args``."""
        return f"LIMIT ${len(self.args) + 1} OFFSET ${len(self.args) + 2}"
