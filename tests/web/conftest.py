"""The web client's browser tests: the real local stack (deploy/local/stack.py) as a subprocess, on its own
ports, state directory and databases, so every service is its own process, the gateway is nginx and the mail
is maildump; and Debian's chromium driven by Playwright (never `playwright install`).

Set WEB_TEST_STACK=<port offset>:<state dir> to reuse a stack already running (while developing the pages).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from crmkit import localstack
from stack.test_local_stack import (
    BROKER_PORT,
    PRIVATE_PG_PORT,
    SERVICES,
    _alive,
    _descendants,
    _drop_databases,
    _free_offset,
    _wait_for,
)
from web.webstack import (
    CHROMIUM,
    CHROMIUM_ARGS,
    READY_TIMEOUT_S,
    ROOT,
    SCREENSHOTS,
    STACK,
    RunningStack,
    _ready,
)


@pytest.fixture(scope="session")
def web_stack() -> Iterator[RunningStack]:
    reuse = os.environ.get("WEB_TEST_STACK")
    if reuse:
        offset, state = reuse.split(":", 1)
        yield RunningStack(int(offset), Path(state).resolve(), None)
        return
    offset = _free_offset()
    suffix = f"_w{uuid.uuid4().hex[:8]}"
    state = ROOT / "var" / "test" / f"webstack{suffix}"
    state.mkdir(parents=True)
    log = state / "stack.log"
    env = {k: v for k, v in os.environ.items() if k not in {"KAFKA_BOOTSTRAP_SERVERS", "KAFKA_IDEMPOTENCE"}}
    for name in ("STACK_PORT_OFFSET", "STACK_DB_SUFFIX", "TOPIC_PREFIX"):
        env.pop(name, None)
    command = [sys.executable, str(STACK), "--no-demo", "--port-offset", str(offset),
               "--broker-port", str(BROKER_PORT + offset), "--pg-port", str(PRIVATE_PG_PORT + offset),
               "--state-dir", str(state), "--db-suffix", suffix]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = RunningStack(offset, state, log)
    seen = set()
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"the stack exited with {proc.returncode}:\n{running.output()}")
            return _ready(running)

        try:
            _wait_for(ready, READY_TIMEOUT_S, "the local stack ready", interval=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{running.output()}") from None
        seen = _descendants(proc.pid)
        yield running
    finally:
        seen |= _descendants(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(45)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        for p in seen:
            if _alive(p):
                os.kill(p.pid, signal.SIGKILL)
        admin_url = localstack.existing_postgres_url()
        if admin_url:
            databases = [f"{name}{suffix}" for _, name in SERVICES.values()]
            databases.append(f"factelec_demo{suffix}")
            # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
            admin = localstack.with_database(admin_url, "postgres")
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, _drop_databases(admin, databases)).result()
        shutil.rmtree(state, ignore_errors=True)


# Per module: Playwright's sync API keeps an event loop running in the main thread while it is open, which
# would break later tests that call asyncio.run (tests/stack).
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run scripts/setup.sh (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
