"""SQL of tickets: materialization, COMANDA state, pending and dropped changes, and the read queries.

Every write takes whole batches (one statement per table per batch): the COMANDA path must keep up with
thousands of closures a second on one worker.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
from crm_contracts.events.tickets import TicketRequested
from crmkit.db import Connection

from tickets.domain.tickets import Decision, StatusChange, TicketState, Transition, Viewer

# Advisory locks of tickets live in their own space (two int4 keys), apart from the relay's bigint lock.
TICKET_LOCK_SPACE = 7201


async def lock_tickets(conn: Connection, ticket_ids: Iterable[uuid.UUID]) -> None:
    """Serialize every writer of these tickets until the transaction ends, in a fixed order (no deadlock).

    This is what makes "a change for an unknown ticket" safe with several workers: the materializer and the
    COMANDA handler of one ticket never run at once, so a change is either seen as pending by the
    materializer or finds the ticket. (The key is the hash of the id's text, sorted in SQL.)
    """
    ids = list(set(ticket_ids))
    if ids:
        await conn.execute(
            """SELECT pg_advisory_xact_lock($1, k) FROM (
                 SELECT DISTINCT hashtext(id::text) AS k FROM unnest($2::uuid[]) AS id ORDER BY k) AS keys""",
            TICKET_LOCK_SPACE,
            ids,
        )


# -- materialization -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    event: TicketRequested
    requested_at: datetime


async def insert_tickets(conn: Connection, requests: Sequence[Request]) -> set[uuid.UUID]:
    """Insert the tickets not yet known; returns the ids inserted now."""
    if not requests:
        return set()
    records = [
        {**r.event.model_dump(mode="json"), "requested_at": r.requested_at.isoformat()} for r in requests
    ]
    rows = await conn.fetch(
        """INSERT INTO tickets (id, code, responsibility, due_date, responsible_id, responsible_name,
                               responsible_email, responsible_area, cc, cc_ids, event_id, event_code,
                               event_title, event_internal_commitment_date, attention_id, attention_code,
                               subject_kind, client_id, nic, subject_name, requested_by, requested_at,
                               status_changed_at)
           SELECT r.ticket_id, r.code, r.responsibility, r.due_date, r.responsible->>'user_id',
                  r.responsible->>'name', r.responsible->>'email', r.responsible->>'area', r.cc,
                  ARRAY(SELECT p->>'user_id' FROM jsonb_array_elements(r.cc) AS p), r.event_id, r.event_code,
                  r.event_title, r.event_internal_commitment_date, r.attention_id, r.attention_code,
                  r.subject->>'kind', (r.subject->>'client_id')::uuid, r.subject->>'nic',
                  r.subject->>'display_name', r.requested_by, r.requested_at, r.requested_at
           FROM jsonb_to_recordset($1::text::jsonb) AS r(
                  ticket_id uuid, code text, responsibility text, due_date date, responsible jsonb, cc jsonb,
                  event_id uuid, event_code text, event_title text, event_internal_commitment_date date,
                  attention_id uuid, attention_code text, subject jsonb, requested_by text,
                  requested_at timestamptz)
           ON CONFLICT (id) DO NOTHING
           RETURNING id""",
        json.dumps(records),
    )
    return {row["id"] for row in rows}


async def insert_creations(conn: Connection, requests: Sequence[Request]) -> None:
    """The first transition of each new ticket: (nothing) -> assigned, sequence 0."""
    await conn.execute(
        """INSERT INTO ticket_transitions (ticket_id, sequence, from_status, to_status, changed_at,
                                          changed_by)
           SELECT id, 0, NULL, 'assigned', at, who
           FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS r(id, at, who)""",
        [r.event.ticket_id for r in requests],
        [r.requested_at for r in requests],
        [r.event.requested_by for r in requests],
    )


# -- COMANDA ---------------------------------------------------------------------------------------------


async def ticket_states(conn: Connection, ticket_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, TicketState]:
    # The columns in the order of TicketState's fields: one positional construction per row.
    rows = await conn.fetch(
        """SELECT id, code, event_id, attention_id, status, last_sequence, status_changed_at, resolution,
                  closed_at, closed_by, reopen_reason
           FROM tickets WHERE id = ANY($1::uuid[])""",
        list(set(ticket_ids)),
    )
    return {row[0]: TicketState(*row) for row in rows}


async def known_comanda_ids(conn: Connection, comanda_ids: Iterable[str]) -> set[str]:
    """The ids among ``comanda_ids`` of changes already applied or kept pending."""
    ids = list(set(comanda_ids))
    rows = await conn.fetch(
        """SELECT comanda_event_id FROM ticket_transitions WHERE comanda_event_id = ANY($1::text[])
           UNION ALL
           SELECT comanda_event_id FROM comanda_pending WHERE comanda_event_id = ANY($1::text[])""",
        ids,
    )
    return {row["comanda_event_id"] for row in rows}


async def save_states(conn: Connection, states: Sequence[TicketState]) -> None:
    if not states:
        return
    ids, _, _, _, status, last_sequence, changed_at, resolution, closed_at, closed_by, reopen_reason = zip(
        *states, strict=True
    )
    await conn.execute(
        """UPDATE tickets AS t
           SET status = u.status, last_sequence = u.last_sequence, status_changed_at = u.status_changed_at,
               resolution = u.resolution, closed_at = u.closed_at, closed_by = u.closed_by,
               reopen_reason = u.reopen_reason, updated_at = now()
           FROM unnest($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::text[], $6::timestamptz[],
                       $7::text[], $8::text[])
                AS u(id, status, last_sequence, status_changed_at, resolution, closed_at, closed_by,
                     reopen_reason)
           WHERE t.id = u.id""",
        ids,
        status,
        last_sequence,
        changed_at,
        resolution,
        closed_at,
        closed_by,
        reopen_reason,
    )


TRANSITION_COLUMNS = list(Transition._fields)


async def insert_transitions(conn: Connection, transitions: Sequence[Transition]) -> None:
    """Binary COPY of the rows as they are (a Transition is a row): the cheapest insert on both sides."""
    if transitions:
        await conn.copy_records_to_table(
            "ticket_transitions", records=transitions, columns=TRANSITION_COLUMNS
        )


@dataclass(frozen=True)
class PendingChange:
    change: StatusChange
    correlation_id: uuid.UUID | None


async def add_pending(conn: Connection, pending: Sequence[PendingChange]) -> None:
    if not pending:
        return
    changes = [p.change for p in pending]
    await conn.execute(
        """INSERT INTO comanda_pending (comanda_event_id, envelope_id, correlation_id, ticket_id, sequence,
                                       status, changed_at, changed_by, resolution, reason)
           SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int[], $6::text[],
                                $7::timestamptz[], $8::text[], $9::text[], $10::text[])
           ON CONFLICT (comanda_event_id) DO NOTHING""",
        [c.comanda_event_id for c in changes],
        [c.envelope_id for c in changes],
        [p.correlation_id for p in pending],
        [c.ticket_id for c in changes],
        [c.sequence for c in changes],
        [c.status for c in changes],
        [c.changed_at for c in changes],
        [c.changed_by for c in changes],
        [c.resolution for c in changes],
        [c.reason for c in changes],
    )


async def take_pending(conn: Connection, ticket_ids: Iterable[uuid.UUID]) -> list[PendingChange]:
    """Remove and return the pending changes of these tickets (their tickets have just arrived)."""
    rows = await conn.fetch(
        """DELETE FROM comanda_pending WHERE ticket_id = ANY($1::uuid[])
           RETURNING comanda_event_id, envelope_id, correlation_id, ticket_id, sequence, status, changed_at,
                     changed_by, resolution, reason""",
        list(set(ticket_ids)),
    )
    return [
        PendingChange(
            StatusChange(
                comanda_event_id=row["comanda_event_id"],
                envelope_id=row["envelope_id"],
                ticket_id=row["ticket_id"],
                sequence=row["sequence"],
                status=row["status"],
                changed_at=row["changed_at"],
                changed_by=row["changed_by"],
                resolution=row["resolution"],
                reason=row["reason"],
            ),
            row["correlation_id"],
        )
        for row in rows
    ]


async def record_dropped(conn: Connection, dropped: Sequence[Decision]) -> None:
    if not dropped:
        return
    changes = [d.change for d in dropped]
    await conn.execute(
        """INSERT INTO comanda_dropped (comanda_event_id, envelope_id, ticket_id, sequence, status, reason)
           SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::text[])""",
        [c.comanda_event_id for c in changes],
        [c.envelope_id for c in changes],
        [c.ticket_id for c in changes],
        [c.sequence for c in changes],
        [c.status for c in changes],
        [d.reason for d in dropped],
    )


# -- reading ---------------------------------------------------------------------------------------------

TICKET_COLUMNS = """t.id, t.code, t.responsibility, t.due_date, t.responsible_id, t.responsible_name,
    t.responsible_email, t.responsible_area, t.cc, t.cc_ids, t.event_id, t.event_code, t.event_title,
    t.event_internal_commitment_date, t.attention_id, t.attention_code, t.subject_kind, t.client_id, t.nic,
    t.subject_name, t.requested_by, t.requested_at, t.status, t.last_sequence, t.status_changed_at,
    t.resolution, t.closed_at, t.closed_by, t.reopen_reason, t.created_at, t.updated_at"""


def visible_to(viewer: Viewer, params: list[Any], alias: str = "t") -> str:
    """SQL condition: the ticket ``alias`` is visible to ``viewer`` (domain.tickets.can_see, in SQL)."""
    if viewer.is_admin:
        return "TRUE"
    params.append(viewer.user_id)
    u = f"${len(params)}"
    return f"""({alias}.responsible_id = {u} OR {u} = ANY({alias}.cc_ids)
        OR {alias}.subject_kind = 'supply_point'
        OR EXISTS (SELECT 1 FROM client_access a
                   WHERE a.client_id = {alias}.client_id AND a.user_id = {u} AND a.granted))"""


@dataclass(frozen=True)
class TicketFilters:
    status: Sequence[str] = ()
    responsible: str | None = None
    area: str | None = None
    due_from: date | None = None
    due_to: date | None = None
    overdue: bool | None = None
    client_id: uuid.UUID | None = None
    nic: str | None = None
    event_id: uuid.UUID | None = None
    attention_id: uuid.UUID | None = None
    code: str | None = None


def _where(viewer: Viewer, f: TicketFilters, today: date, params: list[Any]) -> str:
    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    conditions = [visible_to(viewer, params)]
    if f.status:
        conditions.append(f"t.status = ANY({param(list(f.status))}::text[])")
    if f.responsible:
        conditions.append(f"t.responsible_id = {param(f.responsible)}")
    if f.area:
        conditions.append(f"lower(t.responsible_area) = lower({param(f.area)})")
    if f.due_from:
        conditions.append(f"t.due_date >= {param(f.due_from)}")
    if f.due_to:
        conditions.append(f"t.due_date <= {param(f.due_to)}")
    if f.overdue is not None:
        late = f"(t.status <> 'closed' AND t.due_date < {param(today)})"
        conditions.append(late if f.overdue else f"NOT {late}")
    if f.client_id:
        conditions.append(f"t.client_id = {param(f.client_id)}")
    if f.nic:
        conditions.append(f"t.nic = {param(f.nic)}")
    if f.event_id:
        conditions.append(f"t.event_id = {param(f.event_id)}")
    if f.attention_id:
        conditions.append(f"t.attention_id = {param(f.attention_id)}")
    if f.code:
        conditions.append(f"t.code = {param(f.code)}")
    return " AND ".join(conditions)


async def list_tickets(
    conn: Connection, viewer: Viewer, filters: TicketFilters, today: date, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    params: list[Any] = []
    where = _where(viewer, filters, today, params)
    total = await conn.fetchval(f"SELECT count(*) FROM tickets t WHERE {where}", *params)
    rows = await conn.fetch(
        f"""SELECT {TICKET_COLUMNS} FROM tickets t WHERE {where}
            ORDER BY t.due_date, t.code, t.id LIMIT {int(limit)} OFFSET {int(offset)}""",
        *params,
    )
    return list(rows), int(total)


async def get_ticket(conn: Connection, ticket_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.id = $1", ticket_id)


async def has_client_access(conn: Connection, client_id: uuid.UUID | None, user_id: str) -> bool:
    if client_id is None:
        return False
    return bool(
        await conn.fetchval(
            "SELECT granted FROM client_access WHERE client_id = $1 AND user_id = $2", client_id, user_id
        )
    )


async def history(conn: Connection, ticket_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """SELECT sequence, from_status, to_status, comanda_event_id, changed_at, changed_by, note,
                      recorded_at
               FROM ticket_transitions WHERE ticket_id = $1 ORDER BY sequence""",
            ticket_id,
        )
    )
