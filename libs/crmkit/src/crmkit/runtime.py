"""One service process: migrations, pool, HTTP API, event worker, outbox relay, topology guard.

Each part can run alone (``api``, ``worker``, ``relay``) to scale them apart, or all in one process for the
local stack. Shutdown is graceful: the API stops taking requests, the worker finishes and commits the batch
in flight, and the relay finishes the send in flight and marks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn
from crm_contracts.registry import TOPICS, Topic
from fastapi import FastAPI

from crmkit.consumer import Subscriptions
from crmkit.db import create_pool, migrate
from crmkit.http import create_app
from crmkit.kafka import ensure_topics, missing_topics
from crmkit.logs import configure_logging
from crmkit.outbox import Outbox
from crmkit.relay import OutboxRelay
from crmkit.settings import KitSettings
from crmkit.worker import Worker

log = logging.getLogger(__name__)
ALL_PARTS = frozenset({"api", "worker", "relay"})
TOPOLOGY_CHECK_S = 3.0


@dataclass
class ServiceDefinition:
    name: str
    settings: KitSettings
    migrations: Sequence[Path]
    subscriptions: Subscriptions = field(default_factory=Subscriptions)
    build_api: Callable[[ServiceRuntime], FastAPI] | None = None
    registry: Sequence[Topic] = TOPICS
    # Topics this service publishes to; created at start so the relay never relies on auto-creation.
    produces: Sequence[Topic] = ()
    on_start: Callable[[ServiceRuntime], Any] | None = None


class ServiceRuntime:
    def __init__(self, definition: ServiceDefinition) -> None:
        self.definition = definition
        self.settings = definition.settings
        self.outbox = Outbox(self.settings.service_name, self.settings.topic_prefix, definition.registry)
        self._pool: asyncpg.Pool | None = None
        self.worker: Worker | None = None
        self.relay: OutboxRelay | None = None
        self.api: FastAPI | None = None
        self.state: dict[str, Any] = {}
        self._tasks: list[asyncio.Task[Any]] = []

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service is not started")
        return self._pool

    async def check_database(self) -> None:
        async with self.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")

    async def check_broker(self) -> None:
        names = [self.settings.topic(t.name) for t in self.definition.produces]
        missing = await asyncio.wait_for(missing_topics(self.settings, names), 3)
        if missing:
            raise RuntimeError(f"missing topics {missing}")

    def add_task(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run a background loop of the service; ``stop()`` cancels and awaits it."""
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.append(task)
        return task

    async def start(self, parts: Collection[str] = ALL_PARTS) -> None:
        d = self.definition
        await migrate(self.settings.database_url, d.migrations)
        self._pool = await create_pool(self.settings.database_url, max_size=self.settings.database_pool_size)
        if self.settings.create_topics and d.produces:
            await ensure_topics(self.settings, d.produces)
        if "worker" in parts:
            tune_garbage_collector(self.settings.gc_gen0_threshold)
            self.worker = Worker(self.settings, self.pool, d.subscriptions, d.registry)
            await self.worker.start()
            self._tasks.append(asyncio.create_task(self._guard_topology(), name="topology-guard"))
        if "relay" in parts:
            self.relay = OutboxRelay(self.settings, topics=d.registry)
            self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        if "api" in parts and d.build_api is not None:
            self.api = d.build_api(self)
        if d.on_start is not None:
            result = d.on_start(self)
            if asyncio.iscoroutine(result):
                await result

    async def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        if self.worker is not None:
            await self.worker.stop()
        for task in self._tasks:
            if task.get_name() != "outbox-relay":
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 20)
        self._tasks.clear()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @contextlib.asynccontextmanager
    async def running(self, parts: Collection[str] = ALL_PARTS) -> AsyncIterator[ServiceRuntime]:
        await self.start(parts)
        try:
            yield self
        finally:
            await self.stop()

    async def _guard_topology(self) -> None:
        """A restarted memory broker comes back without topics; recreate them and rebuild the consumers."""
        assert self.worker is not None
        while True:
            await asyncio.sleep(TOPOLOGY_CHECK_S)
            try:
                await self.worker.check_topology()
            except Exception as exc:
                log.warning("broker topology check failed: %s", exc)


def tune_garbage_collector(gen0_threshold: int) -> None:
    """Fewer, larger young-generation collections; what exists after start-up is never scanned again.

    Reference counting still frees almost everything at once; only cycles wait for the rarer collections.
    Process-wide, so it is applied where the process is a worker.
    """
    if gen0_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


def probe_app(runtime: ServiceRuntime, parts: Collection[str]) -> FastAPI | None:
    """/healthz, /readyz and /metrics for a worker or relay running alone (container probes, scraping).

    Served on HTTP_PORT like the API; HTTP_PORT=0 turns it off (two parts of one service on one host).
    """
    if runtime.settings.http_port <= 0:
        return None
    return create_app(
        title=f"{runtime.settings.service_name} ({', '.join(sorted(parts))})",
        readiness={"database": runtime.check_database},
    )


def listening_socket(settings: KitSettings) -> socket.socket:
    """The API's socket, bound here rather than by uvicorn so that it may share the port with the other
    processes of the service (``http_reuse_port``)."""
    family, kind, _, _, address = socket.getaddrinfo(
        settings.http_host, settings.http_port, type=socket.SOCK_STREAM
    )[0]
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if settings.http_reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process shuts down the API, worker and relay together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(definition: ServiceDefinition, parts: Collection[str]) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    settings = definition.settings
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    runtime = ServiceRuntime(definition)
    await runtime.start(parts)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server: uvicorn.Server | None = None
    server_task: asyncio.Task[Any] | None = None
    app = runtime.api if runtime.api is not None else probe_app(runtime, parts)
    if app is not None:
        config = uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        server = _Server(config)
        server_task = asyncio.create_task(server.serve(sockets=[listening_socket(settings)]))
    log.info("%s started (%s)", settings.service_name, ", ".join(sorted(parts)))
    await stop.wait()
    log.info("%s stopping", settings.service_name)
    if server is not None and server_task is not None:
        server.should_exit = True
        await server_task
    await runtime.stop()
    log.info("%s stopped", settings.service_name)
