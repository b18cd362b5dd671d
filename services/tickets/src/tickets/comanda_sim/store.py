"""Where the simulator keeps each person's inbox and each ticket's last sequence: memory or SQLite."""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from crm_contracts.events.tickets import TicketAssigned

OPEN = ("assigned", "accepted", "in_progress", "reopened")


@dataclass(frozen=True)
class InboxItem:
    """A ticket as COMANDA shows it in an inbox."""

    ticket_id: uuid.UUID
    code: str
    responsibility: str
    due_date: date
    responsible_id: str
    responsible_name: str
    cc_ids: tuple[str, ...]
    event_code: str
    attention_code: str
    subject: str
    assignment_event_id: uuid.UUID
    correlation_id: uuid.UUID | None
    status: str = "assigned"
    sequence: int = 0  # the last sequence COMANDA sent for this ticket
    cc_names: tuple[str, ...] = ()  # beside cc_ids, for the page's picker (absent in older state files)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_assignment(
        cls, event: TicketAssigned, event_id: uuid.UUID, correlation_id: uuid.UUID | None
    ) -> InboxItem:
        return cls(
            ticket_id=event.ticket_id,
            code=event.code,
            responsibility=event.responsibility,
            due_date=event.due_date,
            responsible_id=event.responsible.user_id,
            responsible_name=event.responsible.name,
            cc_ids=tuple(p.user_id for p in event.cc),
            cc_names=tuple(p.name for p in event.cc),
            event_code=event.event_code,
            attention_code=event.attention_code,
            subject=event.subject.display_name,
            assignment_event_id=event_id,
            correlation_id=correlation_id,
        )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def role_of(self, user_id: str) -> str | None:
        if user_id == self.responsible_id:
            return "responsible"
        if user_id in self.cc_ids:
            return "cc"
        return None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        data["ticket_id"] = str(self.ticket_id)
        data["assignment_event_id"] = str(self.assignment_event_id)
        data["correlation_id"] = str(self.correlation_id) if self.correlation_id else None
        data["due_date"] = self.due_date.isoformat()
        data["cc_ids"] = list(self.cc_ids)
        data["cc_names"] = list(self.cc_names)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InboxItem:
        return cls(
            **{
                **data,
                "ticket_id": uuid.UUID(data["ticket_id"]),
                "assignment_event_id": uuid.UUID(data["assignment_event_id"]),
                "correlation_id": uuid.UUID(data["correlation_id"]) if data["correlation_id"] else None,
                "due_date": date.fromisoformat(data["due_date"]),
                "cc_ids": tuple(data["cc_ids"]),
                "cc_names": tuple(data.get("cc_names", ())),
            }
        )


class InboxStore(Protocol):
    persistent: bool

    def add(self, item: InboxItem) -> bool:
        """Keep a new assignment; False when the ticket is already known (its status is kept)."""

    def get(self, ref: str) -> InboxItem | None:
        """A ticket by id or code."""

    def put(self, item: InboxItem) -> None: ...

    def all(self) -> list[InboxItem]: ...

    def close(self) -> None: ...


class MemoryStore:
    """In memory: for tests and demos that run the simulator inside one process."""

    persistent = False

    def __init__(self) -> None:
        self._items: dict[uuid.UUID, InboxItem] = {}

    def add(self, item: InboxItem) -> bool:
        if item.ticket_id in self._items:
            return False
        self._items[item.ticket_id] = item
        return True

    def get(self, ref: str) -> InboxItem | None:
        try:
            return self._items.get(uuid.UUID(ref))
        except ValueError:
            return next((i for i in self._items.values() if i.code == ref), None)

    def put(self, item: InboxItem) -> None:
        self._items[item.ticket_id] = item

    def all(self) -> list[InboxItem]:
        return list(self._items.values())

    def close(self) -> None:
        pass


class SqliteStore:
    """A small SQLite file: the CLI runs once per command, and sequences must survive between runs."""

    persistent = True

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS inbox (
                 ticket_id TEXT PRIMARY KEY, code TEXT NOT NULL, item TEXT NOT NULL)"""
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS inbox_code ON inbox (code)")
        self._db.commit()

    def add(self, item: InboxItem) -> bool:
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO inbox (ticket_id, code, item) VALUES (?, ?, ?)",
            (str(item.ticket_id), item.code, json.dumps(item.to_json())),
        )
        self._db.commit()
        return cursor.rowcount == 1

    def get(self, ref: str) -> InboxItem | None:
        row = self._db.execute(
            "SELECT item FROM inbox WHERE ticket_id = ? OR code = ? LIMIT 1", (ref, ref)
        ).fetchone()
        return InboxItem.from_json(json.loads(row[0])) if row else None

    def put(self, item: InboxItem) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO inbox (ticket_id, code, item) VALUES (?, ?, ?)",
            (str(item.ticket_id), item.code, json.dumps(item.to_json())),
        )
        self._db.commit()

    def all(self) -> list[InboxItem]:
        return [InboxItem.from_json(json.loads(r[0])) for r in self._db.execute("SELECT item FROM inbox")]

    def close(self) -> None:
        self._db.close()
