"""The projection of client access lists (attentions.client_access.granted / revoked)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from crmkit.db import Connection


@dataclass(frozen=True)
class AccessChange:
    client_id: uuid.UUID
    user_id: str
    granted: bool
    changed_at: datetime


async def apply_access_changes(conn: Connection, changes: Sequence[AccessChange]) -> None:
    """Latest change per (client, user) wins; an older change (a replay) never overrides a newer one."""
    latest: dict[tuple[uuid.UUID, str], AccessChange] = {}
    for change in changes:  # in record order: per client, the order they were made
        latest[(change.client_id, change.user_id)] = change
    if not latest:
        return
    rows = list(latest.values())
    await conn.execute(
        """INSERT INTO client_access (client_id, user_id, granted, changed_at)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::timestamptz[])
           ON CONFLICT (client_id, user_id) DO UPDATE
           SET granted = EXCLUDED.granted, changed_at = EXCLUDED.changed_at
           WHERE client_access.changed_at <= EXCLUDED.changed_at""",
        [r.client_id for r in rows],
        [r.user_id for r in rows],
        [r.granted for r in rows],
        [r.changed_at for r in rows],
    )
