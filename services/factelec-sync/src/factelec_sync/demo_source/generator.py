"""A FACTELEC demo database: schema, synthetic supply points (COPY), and mutations for tests and demos.

``fill`` appends ``rows`` supply points (and their customers) in chunks of 100,000 with ``COPY``; a small
share of them are bad in the ways a legacy billing database is (no NIC, a blank NIC, an unknown status
code, a municipality or customer that does not exist, no tariff). ``mutate`` changes random rows the way
FACTELEC's users and batch jobs do (address changes, disconnections, deletions, holders renamed in the
customers table without touching the supply point, ...).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from factelec_sync.demo_source.geography import (
    CANTONS,
    COMPANIES,
    DEPARTMENT_WEIGHTS,
    DEPARTMENTS,
    FIRST_NAMES,
    NEIGHBOURHOODS,
    STREETS,
    SURNAMES,
    TARIFFS,
)

SCHEMA = Path(__file__).with_name("schema.sql")
NIC_BASE = 3_000_000  # NIC = NIC_BASE + id_suministro: 7 digits up to 7 million supply points
CHUNK = 100_000
BAD_KINDS = ("no_nic", "blank_nic", "bad_status", "no_municipality", "no_customer", "no_tariff")
DEFAULT_BAD_FRACTION = 0.002
MISSING_MUNICIPALITY = 999_999
SUMINISTRO_COLUMNS = [
    "id_suministro",
    "nic",
    "id_cliente",
    "direccion",
    "id_municipio",
    "codigo_tarifa",
    "numero_medidor",
    "estado_conexion",
    "fecha_conexion",
    "fecha_actualizacion",
]
CLIENTE_COLUMNS = [
    "id_cliente",
    "nombre_titular",
    "tipo_documento",
    "numero_documento",
    "telefono",
    "correo",
    "fecha_alta",
    "fecha_actualizacion",
]
_ASCII = str.maketrans("áéíóúüñÁÉÍÓÚÜÑ", "aeiouunAEIOUUN")


# -- the database -------------------------------------------------------------------------------------


def _database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


def _maintenance_dsn(dsn: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))


async def ensure_database(dsn: str) -> bool:
    """Create the demo database when missing. Returns True when it was created."""
    name = _database_name(dsn)
    conn = await asyncpg.connect(_maintenance_dsn(dsn))
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        escaped = name.replace('"', '""')
        try:
            await conn.execute(f'CREATE DATABASE "{escaped}"')
        except asyncpg.DuplicateDatabaseError:
            return False
        return True
    finally:
        await conn.close()


async def create_schema(conn: asyncpg.Connection) -> None:
    """Tables (when missing) and the reference data: departments, municipalities, tariffs."""
    await conn.execute(SCHEMA.read_text())
    departments = [(i, code, name) for i, (code, name, _) in enumerate(DEPARTMENTS, start=1)]
    await conn.executemany(
        "INSERT INTO departamentos VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", departments
    )
    await conn.executemany(
        "INSERT INTO municipios VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", municipality_rows()
    )
    await conn.executemany(
        "INSERT INTO tarifas VALUES ($1, $2) ON CONFLICT DO NOTHING", [(c, d) for c, d, _ in TARIFFS]
    )


async def drop_schema(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "DROP TABLE IF EXISTS suministros, clientes, tarifas, municipios, departamentos CASCADE"
    )


def municipality_rows() -> list[tuple[int, int, str]]:
    rows = []
    for d, (_, _, municipalities) in enumerate(DEPARTMENTS, start=1):
        for m, name in enumerate(municipalities, start=1):
            rows.append((d * 1000 + m, d, name))
    return rows


# -- synthetic rows -----------------------------------------------------------------------------------


def dui_check_digit(digits: str) -> int:
    """The check digit of a DUI's 8 digits (weights 9..2, modulo 10)."""
    total = sum(int(d) * w for d, w in zip(digits, range(9, 1, -1), strict=True))
    return (10 - total % 10) % 10


def dui(rng: random.Random) -> str:
    digits = f"{int(rng.random() * 10**8):08d}"
    return f"{digits}-{dui_check_digit(digits)}"


def nit(rng: random.Random) -> str:
    r = rng.random
    return f"0614-{int(r() * 10**6):06d}-{int(r() * 1000):03d}-{int(r() * 10)}"


@dataclass
class _Pickers:
    """Weighted choices and pools of names and addresses, built once per fill: a row then costs a few
    random numbers instead of a dozen formatted strings."""

    municipalities: list[tuple[int, str]]  # (id_municipio, nombre)
    municipality_weights: list[float]
    tariffs: list[str]
    tariff_weights: list[float]
    holders: list[tuple[str, str, str | None]]  # (name, document type, email)
    addresses: list[str]

    @classmethod
    def build(cls, rng: random.Random | None = None) -> _Pickers:
        rng = rng or random.Random()
        municipalities: list[tuple[int, str]] = []
        weights: list[float] = []
        for d, (code, _, names) in enumerate(DEPARTMENTS, start=1):
            per = DEPARTMENT_WEIGHTS[code] / len(names)
            for m, name in enumerate(names, start=1):
                # The capital of each department holds a good share of its supply points.
                municipalities.append((d * 1000 + m, name))
                weights.append(per * (4.0 if m == 1 else 1.0))
        holders = []
        for _ in range(HOLDER_POOL):
            name, doc_type, _ = _holder(rng, municipalities[int(rng.random() * len(municipalities))][1])
            holders.append((name, doc_type, _email(rng, name)))
        addresses = [_address(rng) for _ in range(ADDRESS_POOL)]
        return cls(
            municipalities, weights, [t[0] for t in TARIFFS], [t[2] for t in TARIFFS], holders, addresses
        )


HOLDER_POOL = 30_000
ADDRESS_POOL = 60_000


def _pick(r: Callable[[], float], seq: Sequence[str]) -> str:
    return seq[int(r() * len(seq))]


def _holder(rng: random.Random, town: str) -> tuple[str, str, str]:
    """(name, document type, document number)."""
    r = rng.random
    if r() < 0.12:
        template = _pick(r, COMPANIES)
        return template.format(s=_pick(r, SURNAMES), m=town), "NIT", nit(rng)
    first = _pick(r, FIRST_NAMES)
    if r() < 0.35:
        first = f"{first} {_pick(r, FIRST_NAMES)}"
    return f"{first} {_pick(r, SURNAMES)} {_pick(r, SURNAMES)}", "DUI", dui(rng)


def _address(rng: random.Random) -> str:
    r = rng.random
    kind = r()
    if kind < 0.45:
        return (
            f"{_pick(r, NEIGHBOURHOODS)}, {_pick(r, STREETS)} #{1 + int(r() * 250)}, Casa {1 + int(r() * 90)}"
        )
    if kind < 0.75:
        return (
            f"{_pick(r, NEIGHBOURHOODS)}, Pasaje {1 + int(r() * 30)}, "
            f"Polígono {_pick(r, 'ABCDEFGH')}, Casa #{1 + int(r() * 60)}"
        )
    if kind < 0.92:
        return f"Cantón {_pick(r, CANTONS)}, Caserío {_pick(r, CANTONS)}, frente a {_pick(r, STREETS)}"
    return f"{_pick(r, STREETS)} Km {5 + int(r() * 85)}.{int(r() * 10)}"


def _email(rng: random.Random, name: str) -> str | None:
    r = rng.random
    if r() < 0.55:
        return None
    local = ".".join(name.lower().translate(_ASCII).split()[:2]).replace(",", "")
    return f"{local}{int(r() * 100)}@{_pick(r, ('gmail.com', 'hotmail.com', 'yahoo.com'))}"


METER_BRANDS = ("EL", "LG", "IT", "SM")


def generate_chunk(
    rng: random.Random,
    pickers: _Pickers,
    first_id: int,
    n: int,
    now: datetime,
    bad_ids: set[int],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(clientes rows, suministros rows) for ids first_id .. first_id + n - 1."""
    r = rng.random
    municipalities = rng.choices(pickers.municipalities, pickers.municipality_weights, k=n)
    tariffs = rng.choices(pickers.tariffs, pickers.tariff_weights, k=n)
    statuses = rng.choices(("C", "D", "S"), (93.0, 5.0, 2.0), k=n)
    holders, n_holders = pickers.holders, len(pickers.holders)
    addresses, n_addresses = pickers.addresses, len(pickers.addresses)
    three_years_us = 3 * 365 * 86400 * 10**6
    # Billing batch jobs stamp thousands of rows with one timestamp: the keyset's tie-breaker at work.
    batch_stamps = [
        (now - timedelta(days=30 * k)).replace(hour=8, minute=0, second=0, microsecond=0)
        for k in range(1, 36)
    ]
    epoch = date(1975, 1, 1).toordinal()
    clientes: list[tuple[Any, ...]] = []
    suministros: list[tuple[Any, ...]] = []
    for i in range(n):
        sid = first_id + i
        name, doc_type, email = holders[int(r() * n_holders)]
        digits = f"{(sid * 48_271 + 13_579_113) % 10**8:08d}"
        doc = (
            f"{digits}-{dui_check_digit(digits)}"
            if doc_type == "DUI"
            else f"0614-{digits[:6]}-{digits[6:]}1-{sid % 10}"
        )
        if r() < 0.1:
            updated = batch_stamps[int(r() * 35)]
        else:
            updated = now - timedelta(microseconds=int(r() * three_years_us))
        signed_up = date.fromordinal(epoch + int(r() * 18_000))
        phone = f"{'2' if sid & 1 else '7'}{100 + sid % 900}-{int(r() * 10_000):04d}"
        clientes.append((sid, name, doc_type, doc, phone, email, signed_up, updated))
        # About one holder in twelve has more than one supply point.
        customer = sid if i == 0 or r() >= 0.08 else first_id + int(r() * i)
        tariff: str | None = tariffs[i]
        meter = None if tariff == "PD-AP" else f"{METER_BRANDS[sid & 3]}{int(r() * 10**8):08d}"
        nic: str | None = str(NIC_BASE + sid)
        status = statuses[i]
        municipality: int | None = municipalities[i][0]
        if sid in bad_ids:
            kind = BAD_KINDS[sid % len(BAD_KINDS)]
            if kind == "no_nic":
                nic = None
            elif kind == "blank_nic":
                nic = "  "
            elif kind == "bad_status":
                status = _pick(r, ("X", "9", "B"))
            elif kind == "no_municipality":
                municipality = None if r() < 0.5 else MISSING_MUNICIPALITY
            elif kind == "no_customer":
                customer = -sid
            else:
                tariff = None
        address = addresses[int(r() * n_addresses)]
        suministros.append(
            (sid, nic, customer, address, municipality, tariff, meter, status, signed_up, updated)
        )
    return clientes, suministros


@dataclass
class FillStats:
    rows: int
    bad_rows: int
    first_id: int
    total_rows: int
    created_database: bool
    seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


async def fill(
    dsn: str,
    rows: int,
    *,
    bad_rows: int | None = None,
    seed: int | None = None,
    reset: bool = False,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> FillStats:
    """Create the demo database and schema when missing, then append ``rows`` supply points."""
    started = time.perf_counter()
    created = await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        if reset:
            await drop_schema(conn)
        await create_schema(conn)
        first_id = int(await conn.fetchval("SELECT coalesce(max(id_suministro), 0) + 1 FROM suministros"))
        rng = random.Random(seed)
        bad = round(rows * DEFAULT_BAD_FRACTION) if bad_rows is None else bad_rows
        bad_ids = set(rng.sample(range(first_id, first_id + rows), min(bad, rows))) if bad else set()
        pickers = _Pickers.build(rng)
        now = now or datetime.now(UTC)
        # Demo data: no need to wait for the WAL flush of each chunk. Into an empty table, the secondary
        # indexes are built once at the end (SCHEMA creates them again), much faster than row by row.
        await conn.execute("SET synchronous_commit = off")
        if first_id == 1:
            await conn.execute(
                "DROP INDEX IF EXISTS suministros_nic_uq, suministros_actualizacion, suministros_cliente"
            )
        # Generating a chunk (this process) overlaps with COPYing the previous one (PostgreSQL).
        copying: asyncio.Task[None] | None = None
        for start in range(first_id, first_id + rows, CHUNK):
            n = min(CHUNK, first_id + rows - start)
            clientes, suministros = generate_chunk(rng, pickers, start, n, now, bad_ids)
            if copying is not None:
                await copying
            copying = asyncio.create_task(_copy(conn, clientes, suministros))
            if progress is not None:
                progress(n)
        if copying is not None:
            await copying
        await conn.execute(SCHEMA.read_text())
        await conn.execute("ANALYZE clientes; ANALYZE suministros")
        total = int(await conn.fetchval("SELECT count(*) FROM suministros"))
    finally:
        await conn.close()
    return FillStats(rows, len(bad_ids), first_id, total, created, time.perf_counter() - started)


async def _copy(
    conn: asyncpg.Connection, clientes: list[tuple[Any, ...]], suministros: list[tuple[Any, ...]]
) -> None:
    async with conn.transaction():
        await conn.copy_records_to_table("clientes", records=clientes, columns=CLIENTE_COLUMNS)
        await conn.copy_records_to_table("suministros", records=suministros, columns=SUMINISTRO_COLUMNS)


# -- mutations ----------------------------------------------------------------------------------------


@dataclass
class Mutations:
    """NICs changed, by kind (as FACTELEC has them after the change)."""

    updated: list[str] = field(default_factory=list)
    disconnected: list[str] = field(default_factory=list)
    reconnected: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    corrupted: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    inserted: list[str] = field(default_factory=list)
    stamped_at: datetime | None = None

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in vars(self).items() if isinstance(v, list)}


async def mutate(
    dsn: str,
    *,
    update: int = 0,
    disconnect: int = 0,
    reconnect: int = 0,
    delete: int = 0,
    corrupt: int = 0,
    rename: int = 0,
    insert: int = 0,
    touch: bool = True,
    same_timestamp: bool = False,
    seed: int | None = None,
) -> Mutations:
    """Change random valid rows, disjointly. ``touch=False`` changes status without bumping the update
    timestamp (a batch job that bypasses the application: only reconciliation sees it); ``rename``
    changes holders' names in ``clientes``, which never bumps ``suministros``; ``same_timestamp`` stamps
    every touched row with one timestamp."""
    rng = random.Random(seed)
    out = Mutations()
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            stamp = await conn.fetchval("SELECT clock_timestamp()")
            out.stamped_at = stamp

            def ts() -> datetime | None:
                """One timestamp for every change, or None: the time of each statement (never ahead of
                the source's clock, so a sync run right after sees every change)."""
                return stamp if same_timestamp else None

            await conn.execute("SELECT setseed($1)", rng.random() * 2 - 1)
            taken: list[int] = []

            async def pick(n: int, status: str | None) -> list[tuple[int, str]]:
                if n <= 0:
                    return []
                rows = await conn.fetch(
                    """SELECT id_suministro, nic FROM suministros
                       WHERE nic IS NOT NULL AND btrim(nic) <> '' AND estado_conexion IN ('C', 'D', 'S')
                         AND ($2::text IS NULL OR estado_conexion = $2)
                         AND id_municipio IN (SELECT id_municipio FROM municipios)
                         AND id_cliente IN (SELECT id_cliente FROM clientes) AND codigo_tarifa IS NOT NULL
                         AND NOT id_suministro = ANY($3::bigint[])
                       ORDER BY random() LIMIT $1""",
                    n,
                    status,
                    taken,
                )
                taken.extend(r["id_suministro"] for r in rows)
                return [(r["id_suministro"], r["nic"]) for r in rows]

            for sid, nic in await pick(update, None):
                await conn.execute(
                    """UPDATE suministros SET direccion = $2, codigo_tarifa = $3,
                           fecha_actualizacion = coalesce($4, clock_timestamp())
                       WHERE id_suministro = $1""",
                    sid,
                    _address(rng),
                    rng.choice([t[0] for t in TARIFFS]),
                    ts(),
                )
                out.updated.append(nic)
            for target, n, kind in (("D", disconnect, "C"), ("C", reconnect, "D")):
                for sid, nic in await pick(n, kind):
                    if touch:
                        await conn.execute(
                            """UPDATE suministros SET estado_conexion = $2,
                                   fecha_actualizacion = coalesce($3, clock_timestamp())
                               WHERE id_suministro = $1""",
                            sid,
                            target,
                            ts(),
                        )
                    else:
                        await conn.execute(
                            "UPDATE suministros SET estado_conexion = $2 WHERE id_suministro = $1",
                            sid,
                            target,
                        )
                    (out.disconnected if target == "D" else out.reconnected).append(nic)
            for sid, nic in await pick(corrupt, None):
                await conn.execute(
                    """UPDATE suministros SET estado_conexion = 'X',
                           fecha_actualizacion = coalesce($2, clock_timestamp())
                       WHERE id_suministro = $1""",
                    sid,
                    ts(),
                )
                out.corrupted.append(nic)
            for sid, nic in await pick(rename, None):
                name, _, _ = _holder(rng, "")
                await conn.execute(
                    """UPDATE clientes SET nombre_titular = $2, fecha_actualizacion = now()
                       WHERE id_cliente = (SELECT id_cliente FROM suministros WHERE id_suministro = $1)""",
                    sid,
                    name + " (renombrado)",
                )
                out.renamed.append(nic)
            for sid, nic in await pick(delete, None):
                await conn.execute("DELETE FROM suministros WHERE id_suministro = $1", sid)
                out.deleted.append(nic)
            if insert > 0:
                first_id = int(
                    await conn.fetchval("SELECT coalesce(max(id_suministro), 0) + 1 FROM suministros")
                )
                clientes, suministros = generate_chunk(
                    rng, _Pickers.build(rng), first_id, insert, stamp, set()
                )
                suministros = [(*row[:-1], stamp) for row in suministros]
                await conn.copy_records_to_table("clientes", records=clientes, columns=CLIENTE_COLUMNS)
                await conn.copy_records_to_table(
                    "suministros", records=suministros, columns=SUMINISTRO_COLUMNS
                )
                out.inserted.extend(str(row[1]) for row in suministros)
    finally:
        await conn.close()
    return out
