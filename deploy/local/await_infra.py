"""Runs in front of every service of the local stack: wait for the infrastructure, create the topics, then
become the service (``exec``), so the service keeps this process's pid and process group.

    python deploy/local/await_infra.py [--tcp HOST:PORT]... --lock FILE [--timeout S] \\
        -- python -m attentions run

- PostgreSQL: the server of ``STACK_ADMIN_DATABASE_URL`` accepts connections and answers ``SELECT 1``.
- Broker: every topic of the contracts registry and the dead-letter topics exist (``crmkit.cli create-topics``
  against ``KAFKA_BOOTSTRAP_SERVERS``), retried until the broker answers. Serialised with a lock file so the
  first service creates the topics and the others only find them there.
- ``--tcp``: other addresses that must accept connections (the mail catcher's SMTP port).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import io
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from crmkit import cli, localstack


def _say(text: str) -> None:
    print(f"await-infra: {text}", flush=True)


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def wait_postgres(url: str, deadline: float) -> None:
    last: Exception | None = None
    while True:
        try:
            conn = await asyncpg.connect(url, timeout=3)
        except Exception as exc:  # starting up, refused, not yet listening: all mean "not yet"
            last = exc
        else:
            try:
                await conn.fetchval("SELECT 1")
            finally:
                await conn.close()
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"await-infra: PostgreSQL at {redact(url)} did not answer: {last!r}")
        await asyncio.sleep(0.2)


def create_topics(lock_path: Path, deadline: float) -> None:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        last: Exception | None = None
        while True:
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    cli.main(["create-topics"])
                created = json.loads(out.getvalue())["created"]
                _say(f"topics ready ({len(created)} created now)" if created else "topics ready")
                return
            except Exception as exc:  # the broker is not answering yet
                last = exc
            if time.monotonic() > deadline:
                servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
                raise SystemExit(f"await-infra: could not create the topics on {servers}: {last!r}")
            time.sleep(0.3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="await_infra", description=__doc__.splitlines()[0])
    parser.add_argument("--tcp", action="append", default=[], help="HOST:PORT that must accept connections")
    parser.add_argument("--lock", type=Path, required=True, help="lock file serialising topic creation")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for everything")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run afterwards")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given after --")
    deadline = time.monotonic() + args.timeout

    admin_url = os.environ.pop("STACK_ADMIN_DATABASE_URL", None)  # the service does not need it
    if admin_url:
        asyncio.run(wait_postgres(admin_url, deadline))
    for address in args.tcp:
        host, _, port = address.rpartition(":")
        localstack.wait_for_port(host, int(port), timeout=max(1.0, deadline - time.monotonic()))
    create_topics(args.lock, deadline)

    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(command[0], command)
    return 1  # not reached: execvp replaces this process


if __name__ == "__main__":
    sys.exit(main())
