"""Idempotency keys: a write sent twice has one effect and the same answer.

An answer can be lost after the write committed: the service was killed while answering, PostgreSQL went
away between COMMIT and its acknowledgement, a clerk clicked "Guardar" twice. A client that sends an
``Idempotency-Key`` header (any string it chooses, one per logical write; the web client puts one in every
form) may send the same request again without fear:

- the answer of the first request that *committed* is stored with the key, in the same transaction as its
  effect, so either both exist or neither does;
- a request with a key already stored gets that answer back (``Idempotent-Replayed: true``) and changes
  nothing; one with a stored key but a different method, path or body is refused (422
  ``idempotency_key_reused``), since the key then names two different writes;
- two requests with the same key at the same time are serialized by an advisory lock on the key: the
  second waits for the first and then replays it.

Errors (4xx) are not stored: nothing was written, and the same request may succeed later (an event closes
once its tickets are closed). Keys are per caller and kept ``idempotency_retention_hours``.

Usage in a route, inside the transaction that makes the change::

    async with ctx.transaction() as conn:
        if (replayed := await key.replay(conn)) is not None:
            return replayed
        ...  # the change, the audit rows, the outbox events
        return await key.remember(conn, 201, body)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from crmkit.db import Connection
from crmkit.http import json_bytes
from crmkit.problems import unprocessable

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class IdempotencyKey:
    caller: str
    key: str
    fingerprint: str

    @classmethod
    async def of(cls, request: Request, caller: str, content: bytes | None = None) -> IdempotencyKey | None:
        """The request's key, or None when it sent none (the write is then applied as often as sent).

        The fingerprint covers the method, path, query and body; ``content`` stands for the body where it
        was parsed already (a multipart upload: the file, which is what makes two uploads differ).
        """
        raw = request.headers.get(HEADER)
        if raw is None:
            return None
        key = raw.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise unprocessable(
                HEADER,
                "idempotency_key_format",
                f"the {HEADER} header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            )
        digest = hashlib.sha256()
        digest.update(request.method.encode())
        digest.update(b"\0")
        digest.update(request.url.path.encode())
        digest.update(b"\0")
        digest.update(request.url.query.encode())
        digest.update(b"\0")
        digest.update(content if content is not None else await request.body())
        return cls(caller=caller, key=key, fingerprint=digest.hexdigest())

    async def replay(self, conn: Connection) -> Response | None:
        """The stored answer of this key, or None (then the caller makes the change and ``remember``s it).

        Holds an advisory lock on the key until the transaction ends, so a concurrent request with the
        same key waits here and then finds the answer stored.
        """
        lock = hashlib.sha256(f"{self.caller}\n{self.key}".encode()).digest()[:8]
        await conn.execute("SELECT pg_advisory_xact_lock($1)", int.from_bytes(lock, "big", signed=True))
        row = await conn.fetchrow(
            """SELECT fingerprint, status_code, media_type, body FROM kit_idempotency_keys
                WHERE caller = $1 AND key = $2""",
            self.caller,
            self.key,
        )
        if row is None:
            return None
        if row["fingerprint"] != self.fingerprint:
            raise unprocessable(
                HEADER,
                "idempotency_key_reused",
                "this key was used for a different request; use a new key for a new write",
            )
        return Response(
            bytes(row["body"]),
            status_code=row["status_code"],
            media_type=row["media_type"],
            headers={"Idempotent-Replayed": "true"},
        )

    async def remember(
        self, conn: Connection, status_code: int, content: Any, media_type: str = "application/json"
    ) -> Response:
        """Store the answer with the change (same transaction) and return it."""
        body = content if isinstance(content, bytes) else json_bytes(content)
        await conn.execute(
            """INSERT INTO kit_idempotency_keys (caller, key, fingerprint, status_code, media_type, body)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            self.caller,
            self.key,
            self.fingerprint,
            status_code,
            media_type,
            body,
        )
        return Response(body, status_code=status_code, media_type=media_type)


async def answer(key: IdempotencyKey | None, conn: Connection, status_code: int, content: Any) -> Response:
    """The route's answer: remembered with the key when there is one, else sent as it is."""
    if key is not None:
        return await key.remember(conn, status_code, content)
    return Response(json_bytes(content), status_code=status_code, media_type="application/json")


async def prune(conn: Connection, retention_hours: float) -> None:
    await conn.execute(
        """DELETE FROM kit_idempotency_keys WHERE ctid IN (
             SELECT ctid FROM kit_idempotency_keys
              WHERE created_at < now() - make_interval(secs => $1) LIMIT 10000)""",
        retention_hours * 3600,
    )
