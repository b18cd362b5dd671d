"""From a source row to a supply point of the contract, or to a quarantine entry that says why not.

The column mapping (contract field -> result column) and the status codes come from configuration; the
rules are here. A row is accepted only when every field the contract requires is present, so that an
accepted row always makes a valid ``SupplyPointUpserted`` (a test checks that against the model).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple, Protocol, get_args
from zoneinfo import ZoneInfo

from crm_contracts.events.factelec import ConnectionStatus

from factelec_sync.domain.watermark import SourceKey

CONNECTION_STATUSES: frozenset[str] = frozenset(get_args(ConnectionStatus))
REQUIRED_FIELDS = (
    "key",
    "nic",
    "holder",
    "address",
    "municipality",
    "department",
    "tariff",
    "connection_status",
    "source_updated_at",
)
OPTIONAL_FIELDS = ("meter",)
MAX_NIC_LENGTH = 32
_WHITESPACE = re.compile(r"\s").search


class SourceRow(Protocol):
    """A row as an adapter returns it: values by result column (a dict, an asyncpg Record, ...)."""

    def __getitem__(self, key: str, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...

    def items(self) -> Iterable[tuple[str, Any]]: ...


class ConfigurationError(ValueError):
    """The source configuration cannot work (a missing column mapping, an unknown status target)."""


@dataclass(frozen=True, slots=True)
class Columns:
    """Result column of each contract field."""

    key: str
    nic: str
    holder: str
    address: str
    municipality: str
    department: str
    tariff: str
    meter: str | None
    connection_status: str
    source_updated_at: str

    def names(self) -> list[str]:
        return [n for n in (getattr(self, f) for f in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)) if n]


@dataclass(frozen=True, slots=True)
class SourceSchema:
    """What the configuration says about the source's rows."""

    columns: Columns
    statuses: Mapping[str, str]  # normalized source code -> contract connection_status
    timezone: dt.tzinfo

    @classmethod
    def from_config(
        cls, columns: Mapping[str, str], statuses: Mapping[str, str], timezone: str
    ) -> SourceSchema:
        missing = [f for f in REQUIRED_FIELDS if not columns.get(f)]
        if missing:
            raise ConfigurationError(f"FACTELEC_SOURCE_COLUMNS maps no column to: {', '.join(missing)}")
        unknown = sorted(set(columns) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
        if unknown:
            raise ConfigurationError(f"FACTELEC_SOURCE_COLUMNS names unknown fields: {', '.join(unknown)}")
        wrong = sorted({v for v in statuses.values() if v not in CONNECTION_STATUSES})
        if wrong:
            raise ConfigurationError(
                f"FACTELEC_SOURCE_STATUSES maps to {wrong}; allowed: {sorted(CONNECTION_STATUSES)}"
            )
        if not statuses:
            raise ConfigurationError("FACTELEC_SOURCE_STATUSES is empty")
        return cls(
            columns=Columns(**{f: columns[f] for f in REQUIRED_FIELDS}, meter=columns.get("meter") or None),
            statuses={normalize_code(k): v for k, v in statuses.items()},
            timezone=ZoneInfo(timezone),
        )

    def missing_columns(self, present: Iterable[str]) -> list[str]:
        """Mapped columns the source query does not return (checked on the first row of a run)."""
        names = set(present)
        return [name for name in self.columns.names() if name not in names]


class SupplyPoint(NamedTuple):
    """A valid source row, in the contract's terms. A named tuple: made for every row of every run, and a
    frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) cost four times as much."""

    key: SourceKey
    nic: str
    holder: str
    address: str
    municipality: str
    department: str
    tariff: str
    meter: str | None
    connection_status: str
    source_updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Rejected:
    """A source row that cannot be published, why, and the row itself (JSON-safe) for the quarantine."""

    key: str
    nic: str | None
    reasons: tuple[str, ...]
    raw: dict[str, Any]
    source_updated_at: dt.datetime | None

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def normalize_code(value: Any) -> str:
    return str(value).strip().upper()


def _text(value: Any) -> str | None:
    """Trimmed text; None for NULL or blank. Numbers (a numeric NIC column) become their text."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else str(value).strip()
    return text or None


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def map_row(row: SourceRow, schema: SourceSchema) -> SupplyPoint | Rejected:
    """Validate one source row and map it to the contract's fields.

    Called for every row of every run: written for speed (no helper call for the common case of text).
    """
    c = schema.columns
    reasons: list[str] = []

    values = []
    for column in (c.nic, c.holder, c.address, c.municipality, c.department, c.tariff):
        v = row[column]
        if v is not None:
            v = (v if v.__class__ is str else str(v)).strip() or None
        values.append(v)
    nic, holder, address, municipality, department, tariff = values

    if nic is None:
        reasons.append("missing NIC")
    elif len(nic) > MAX_NIC_LENGTH:
        reasons.append(f"NIC longer than {MAX_NIC_LENGTH} characters")
    elif _WHITESPACE(nic):
        reasons.append("NIC contains whitespace")
    if holder is None:
        reasons.append("missing holder")
    if address is None:
        reasons.append("missing address")
    if municipality is None:
        reasons.append("missing municipality")
    if department is None:
        reasons.append("missing department")
    if tariff is None:
        reasons.append("missing tariff")
    meter = _text(row[c.meter]) if c.meter else None

    raw_status = row[c.connection_status]
    status = None
    if raw_status is not None:
        status = schema.statuses.get(raw_status) or schema.statuses.get(normalize_code(raw_status))
    if status is None:
        reasons.append(
            "missing connection status" if raw_status is None else f"invalid connection status {raw_status!r}"
        )

    ts = row[c.source_updated_at]
    if not isinstance(ts, dt.datetime):
        reasons.append("missing update timestamp" if ts is None else f"invalid update timestamp {ts!r}")
        ts = None
    elif ts.tzinfo is None:
        ts = ts.replace(tzinfo=schema.timezone).astimezone(dt.UTC)

    key = row[c.key]
    if key is None:
        reasons.append("missing source key")
    if reasons:
        return Rejected(
            key="" if key is None else str(key),
            nic=nic,
            reasons=tuple(reasons),
            raw={str(k): jsonable(v) for k, v in row.items()},
            source_updated_at=ts,
        )
    assert status is not None and ts is not None
    return SupplyPoint(key, nic, holder, address, municipality, department, tariff, meter, status, ts)


def last_per_nic(points: list[SupplyPoint]) -> tuple[list[SupplyPoint], list[SupplyPoint]]:
    """Keep the last row of each NIC in a page (a source without a unique NIC may return two); returns the
    kept rows in page order and the dropped ones."""
    last: dict[str, int] = {}
    for i, point in enumerate(points):
        last[point.nic] = i
    if len(last) == len(points):
        return points, []
    kept = [p for i, p in enumerate(points) if last[p.nic] == i]
    dropped = [p for i, p in enumerate(points) if last[p.nic] != i]
    return kept, dropped
