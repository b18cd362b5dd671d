"""PDF attachments of attentions and events (content in the database, see the migration)."""

from __future__ import annotations

import uuid
from typing import Any

from crmkit.db import Connection

from attentions.store import row

META = (
    "attachment_id, attention_id, event_id, filename, content_type, size_bytes, sha256, pages, uploaded_by, "
    "uploaded_at"
)


async def insert(
    conn: Connection,
    *,
    attention_id: uuid.UUID,
    event_id: uuid.UUID | None,
    filename: str,
    size_bytes: int,
    sha256: str,
    pages: int,
    content: bytes,
    uploaded_by: str,
) -> dict[str, Any]:
    result = await conn.fetchrow(
        f"""INSERT INTO attachments (attachment_id, attention_id, event_id, filename, size_bytes, sha256,
                                     pages,
                                     content, uploaded_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {META}""",
        uuid.uuid4(),
        attention_id,
        event_id,
        filename,
        size_bytes,
        sha256,
        pages,
        content,
        uploaded_by,
    )
    assert result is not None
    return dict(result)


async def for_attention(conn: Connection, attention_id: uuid.UUID) -> list[dict[str, Any]]:
    """Attachments of the attention itself (not of its events)."""
    rows = await conn.fetch(
        f"""SELECT {META} FROM attachments WHERE attention_id = $1 AND event_id IS NULL
             ORDER BY uploaded_at, attachment_id""",
        attention_id,
    )
    return [dict(r) for r in rows]


async def for_event(conn: Connection, event_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {META} FROM attachments WHERE event_id = $1 ORDER BY uploaded_at, attachment_id", event_id
    )
    return [dict(r) for r in rows]


async def meta(conn: Connection, attachment_id: uuid.UUID) -> dict[str, Any] | None:
    return row(await conn.fetchrow(f"SELECT {META} FROM attachments WHERE attachment_id = $1", attachment_id))


async def content(conn: Connection, attachment_id: uuid.UUID) -> bytes | None:
    value = await conn.fetchval("SELECT content FROM attachments WHERE attachment_id = $1", attachment_id)
    return bytes(value) if value is not None else None
