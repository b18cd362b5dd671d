"""The staff directory: who works at EDESAL, in which area, under which manager, with which roles."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from attentions.domain.access import ROLES
from attentions.domain.errors import RuleBroken, Violation

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
USER_ID = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
CSV_COLUMNS = ("user_id", "name", "email", "area", "manager_id", "roles", "active")
TRUE = {"true", "1", "yes", "y", "si", "sí", "x"}
FALSE = {"false", "0", "no", "n", ""}


@dataclass(frozen=True)
class StaffRecord:
    user_id: str
    name: str
    email: str
    area: str
    manager_id: str | None = None
    roles: tuple[str, ...] = ()
    active: bool = True
    extra: dict[str, str] = field(default_factory=dict, compare=False)


def check_record(record: StaffRecord, prefix: str = "") -> list[Violation]:
    out: list[Violation] = []
    if not USER_ID.match(record.user_id):
        out.append(Violation(f"{prefix}user_id", "user_id_format", "user_id: 1-64 of A-Z a-z 0-9 . _ @ -"))
    if not record.name.strip():
        out.append(Violation(f"{prefix}name", "required", "name is required"))
    if not EMAIL.match(record.email):
        out.append(Violation(f"{prefix}email", "email_format", "email must look like name@domain"))
    if not record.area.strip():
        out.append(Violation(f"{prefix}area", "required", "area is required"))
    unknown = [r for r in record.roles if r not in ROLES]
    if unknown:
        out.append(
            Violation(f"{prefix}roles", "known_roles", f"unknown roles {unknown}; known: {', '.join(ROLES)}")
        )
    if record.manager_id is not None and record.manager_id == record.user_id:
        out.append(Violation(f"{prefix}manager_id", "not_self", "a person cannot be their own manager"))
    return out


def manager_cycle(managers: Mapping[str, str | None]) -> list[str] | None:
    """A cycle in the escalation chain (``user -> manager``), or None. The chain must end at someone."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in managers:
        path: list[str] = []
        node: str | None = start
        while node is not None and state.get(node) != 2:
            if state.get(node) == 1:
                return [*path[path.index(node) :], node]
            state[node] = 1
            path.append(node)
            node = managers.get(node)
        for seen in path:
            state[seen] = 2
    return None


def check_managers(
    records: Iterable[StaffRecord], existing: Mapping[str, str | None], field_of: Mapping[str, str]
) -> list[Violation]:
    """Managers must exist (in the directory or the same change) and the chain must not loop."""
    chain = dict(existing)
    records = list(records)
    for record in records:
        chain[record.user_id] = record.manager_id
    out: list[Violation] = []
    for record in records:
        if record.manager_id is not None and record.manager_id not in chain:
            out.append(
                Violation(
                    field_of[record.user_id],
                    "manager_exists",
                    f"manager {record.manager_id!r} is not in the staff directory",
                )
            )
    cycle = manager_cycle(chain)
    if cycle:
        first = next((field_of[u] for u in cycle if u in field_of), "manager_id")
        out.append(Violation(first, "no_manager_cycle", f"the escalation chain loops: {' -> '.join(cycle)}"))
    return out


def _flag(value: str) -> bool | None:
    v = value.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    return None


def parse_staff_csv(text: str) -> list[StaffRecord]:
    """Rows of ``user_id,name,email,area,manager_id,roles,active`` (roles separated by ``;`` or spaces).

    All or nothing: every broken row is reported (``rows[3].email``), and nothing is returned then.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("user_id", "name", "email", "area") if c not in header]
    if missing:
        raise RuleBroken.one("file", "csv_columns", f"the CSV lacks the columns {missing}")
    records: list[StaffRecord] = []
    violations: list[Violation] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(reader, start=1):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
        prefix = f"rows[{index}]."
        active = _flag(row.get("active", "true") or "true")
        if active is None:
            violations.append(Violation(f"{prefix}active", "boolean", "active must be true or false"))
            active = True
        record = StaffRecord(
            user_id=row.get("user_id", ""),
            name=row.get("name", ""),
            email=row.get("email", ""),
            area=row.get("area", ""),
            manager_id=row.get("manager_id") or None,
            roles=tuple(r for r in re.split(r"[;\s,|]+", row.get("roles", "")) if r),
            active=active,
        )
        violations += check_record(record, prefix)
        if record.user_id in seen:
            violations.append(
                Violation(f"{prefix}user_id", "unique", f"user_id repeats row {seen[record.user_id]}")
            )
        seen.setdefault(record.user_id, index)
        records.append(record)
    if not records and not violations:
        raise RuleBroken.one("file", "not_empty", "the CSV has no rows")
    if violations:
        raise RuleBroken(violations)
    return records
