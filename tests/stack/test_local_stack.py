"""`make up` as a person uses it: deploy/local/stack.py starts the whole system, every service answers, the
mail catcher keeps a mail, and SIGINT (Ctrl-C) stops everything the stack started, and only that.

The stack under test runs on its own ports (a random offset, its own broker port), its own state directory
and its own database names, so it can run beside a developer's `make up`.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import smtplib
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx
import pytest
from crmkit import localstack
from system.stack_harness import bindable

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack.py"
SERVICES = {
    "attentions": (8101, "crm_attentions"),
    "tickets": (8102, "crm_tickets"),
    "notifications": (8103, "crm_notifications"),
    "reports": (8104, "crm_reports"),
    "factelec-sync": (8105, "crm_factelec_sync"),
}
SMTP_PORT, MAIL_WEB_PORT, BROKER_PORT, PRIVATE_PG_PORT = 1025, 1080, 9092, 5433
WEB_PORT, COMANDA_PAGE_PORT, GATEWAY_PORT = 8106, 8107, 8080
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0

T = TypeVar("T")


def _free_offset() -> int:
    """An offset moving every default port of the stack to free ports below the ephemeral range."""
    defaults = [
        *(port for port, _ in SERVICES.values()),
        SMTP_PORT,
        MAIL_WEB_PORT,
        BROKER_PORT,
        PRIVATE_PG_PORT,
        WEB_PORT,
        COMANDA_PAGE_PORT,
        GATEWAY_PORT,
    ]
    for _ in range(100):
        offset = random.randrange(10_000, 23_000)
        if all(bindable(port + offset) for port in defaults):
            return offset
    raise RuntimeError("no free port range found for the stack under test")


def _answers(port: int) -> bool:
    return localstack.port_answers("127.0.0.1", port, timeout=0.3)


# -- processes -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pid:
    pid: int
    start_time: str  # from /proc/<pid>/stat: tells the process apart from a later one with the same pid
    cmdline: str


def _stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of a live process, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], fields[19]


def _descendants(root: int) -> set[Pid]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
    found: set[Pid] = set()
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        stat = _stat(pid)
        if stat is None:
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmdline = "?"
        found.add(Pid(pid, stat[2], cmdline.strip()))
        todo.extend(children.get(pid, []))
    return found


def _alive(p: Pid) -> bool:
    stat = _stat(p.pid)
    return stat is not None and stat[2] == p.start_time and stat[1] != "Z"


def _wait_for(probe: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s; last value: {result!r}")
        time.sleep(interval)


# -- databases -------------------------------------------------------------------------------------------


async def _drop_databases(admin_url: str, names: list[str]) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# -- the stack under test --------------------------------------------------------------------------------


@dataclass
class Stack:
    proc: subprocess.Popen[bytes]
    offset: int
    broker_port: int
    log: Path
    seen: set[Pid]

    def port(self, default: int) -> int:
        return default + self.offset

    def output(self, last: int = 80) -> str:
        lines = self.log.read_text(errors="replace").splitlines()
        return "\n".join(lines[-last:])

    def track(self) -> set[Pid]:
        self.seen |= _descendants(self.proc.pid)
        return self.seen


@pytest.fixture
def stack() -> Iterator[Stack]:
    offset = _free_offset()
    suffix = f"_t{uuid.uuid4().hex[:8]}"
    state = ROOT / "var" / "test" / f"stack{suffix}"  # under the work tree: a private cluster's user reads it
    state.mkdir(parents=True)
    log = state / "stack.log"
    env = {k: v for k, v in os.environ.items() if k not in {"KAFKA_BOOTSTRAP_SERVERS", "KAFKA_IDEMPOTENCE"}}
    env.pop("STACK_PORT_OFFSET", None)
    env.pop("STACK_DB_SUFFIX", None)
    broker_port = BROKER_PORT + offset
    command = [sys.executable, str(STACK), "--no-demo", "--port-offset", str(offset),
               "--broker-port", str(broker_port), "--pg-port", str(PRIVATE_PG_PORT + offset),
               "--state-dir", str(state), "--db-suffix", suffix]  # fmt: skip
    admin_url = localstack.existing_postgres_url()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = Stack(proc, offset, broker_port, log, set())
    try:
        yield running
    finally:
        if proc.poll() is None:  # the test failed before stopping it: stop it, the hard way if need be
            running.track()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(45)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        for p in running.seen | _descendants(proc.pid):
            if _alive(p):
                os.kill(p.pid, signal.SIGKILL)
        if admin_url:
            databases = [f"{name}{suffix}" for _, name in SERVICES.values()]
            asyncio.run(_drop_databases(localstack.with_database(admin_url, "postgres"), databases))
        shutil.rmtree(state, ignore_errors=True)


def test_stack_starts_everything_serves_and_stops_all_it_started_on_sigint(stack: Stack) -> None:
    started = time.monotonic()
    ready_urls = {name: f"http://127.0.0.1:{stack.port(port)}/readyz" for name, (port, _) in SERVICES.items()}
    gateway = f"http://127.0.0.1:{stack.port(GATEWAY_PORT)}"
    # Through nginx: / reaches the web client, /api/<service>/ each service with the prefix stripped.
    ready_urls["web (via gateway)"] = f"{gateway}/readyz"
    ready_urls["attentions (via gateway)"] = f"{gateway}/api/attentions/readyz"
    ready_urls["COMANDA simulator page"] = f"http://127.0.0.1:{stack.port(COMANDA_PAGE_PORT)}/healthz"
    mail_api = f"http://127.0.0.1:{stack.port(MAIL_WEB_PORT)}"

    def not_ready() -> list[str]:
        if stack.proc.poll() is not None:
            raise AssertionError(f"the stack exited with {stack.proc.returncode}:\n{stack.output()}")
        pending = []
        for name, url in [*ready_urls.items(), ("mail", f"{mail_api}/messages/")]:
            try:
                if httpx.get(url, timeout=2).status_code != 200:
                    pending.append(name)
            except httpx.HTTPError:
                pending.append(name)
        return pending

    try:
        _wait_for(lambda: not not_ready(), READY_TIMEOUT_S, "every service ready", interval=0.3)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nstill not ready: {not_ready()}\n{stack.output()}") from None
    ready_after = time.monotonic() - started
    for url in ready_urls.values():
        assert httpx.get(url, timeout=5).json()["status"] == "ok"
    _wait_for(lambda: "Ctrl-C to stop" in stack.log.read_text(errors="replace"), 10, "the banner")

    # A mail sent to the catcher can be read through its HTTP API.
    subject = f"Prueba de la pila local {uuid.uuid4().hex[:8]}"
    mail = EmailMessage()
    mail["From"] = "crm@edesal.example"
    mail["To"] = "cliente@example.com"
    mail["Subject"] = subject
    mail.set_content("Su atención fue registrada.")
    with smtplib.SMTP("127.0.0.1", stack.port(SMTP_PORT), timeout=10) as smtp:
        smtp.send_message(mail)

    def find_mail() -> list[dict[str, object]]:
        messages = httpx.get(f"{mail_api}/messages/", timeout=5).json()["messages"]
        return [m for m in messages if m["subject"] == subject]

    found = _wait_for(find_mail, 10, "the mail in the catcher")
    body = httpx.get(f"{mail_api}/messages/{found[0]['id']}.plain", timeout=5).text
    assert "Su atención fue registrada." in body

    # Ctrl-C: exit 0 within the time limit, nothing it started left behind.
    started_by_stack = stack.track()
    names = " ".join(p.cmdline for p in started_by_stack)
    assert "tansu" in names and "maildump" in names
    assert "-m webclient run" in names and "nginx" in names and "tickets.comanda_sim" in names
    for package in ("attentions", "tickets", "notifications", "reports", "factelec_sync"):
        assert f"-m {package} run" in names, f"{package} is not among the stack's processes: {names}"
    stopping = time.monotonic()
    stack.proc.send_signal(signal.SIGINT)
    try:
        returncode = stack.proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the stack did not stop within {STOP_TIMEOUT_S} s:\n{stack.output()}") from None
    stopped_after = time.monotonic() - stopping
    assert returncode == 0, stack.output()
    try:
        _wait_for(
            lambda: not [p for p in started_by_stack if _alive(p)], 5, "every process of the stack gone"
        )
    except AssertionError:
        left = [p.cmdline for p in started_by_stack if _alive(p)]
        raise AssertionError(f"left running after the stack stopped: {left}\n{stack.output()}") from None
    ports = [stack.port(port) for port, _ in SERVICES.values()]
    ports += [stack.port(SMTP_PORT), stack.port(MAIL_WEB_PORT), stack.broker_port]
    ports += [stack.port(WEB_PORT), stack.port(COMANDA_PAGE_PORT), stack.port(GATEWAY_PORT)]
    assert not [port for port in ports if _answers(port)], "something still answers on the stack's ports"
    print(f"stack ready after {ready_after:.1f} s, stopped {stopped_after:.1f} s after SIGINT")
