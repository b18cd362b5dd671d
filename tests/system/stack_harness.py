"""The local stack's processes, run one by one so a test can SIGKILL, stop and restart any of them.

The plan (commands, environments, ports, databases) is the one ``make up`` runs: it comes from
deploy/local/stack.py's ``build_plan``, so what is proven here is the system a person starts. Only the
supervision differs: honcho stops the whole stack when one process dies, which is right for a person and
wrong for fault injection.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STACK_PY = ROOT / "deploy" / "local" / "stack.py"

# Default ports of the stack (services, web, gateway, mail, broker, private PostgreSQL): an offset must
# move all of them to free ports.
DEFAULT_PORTS = (8101, 8102, 8103, 8104, 8105, 8106, 8107, 8080, 1025, 1080, 9092, 5433)


def load_stack_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("local_stack_under_test", STACK_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_offset() -> int:
    for _ in range(200):
        offset = random.randrange(10_000, 23_000)
        if all(bindable(port + offset) for port in DEFAULT_PORTS):
            return offset
    raise RuntimeError("no free port range for the stack under test")


def answers_200(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Running:
    popen: subprocess.Popen[bytes]
    started_at: float


@dataclass
class StackHarness:
    state_dir: Path
    offset: int
    db_suffix: str
    plan: Any = None
    procs: dict[str, Any] = field(default_factory=dict)
    running: dict[str, Running] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def create(cls, base: Path) -> StackHarness:
        suffix = f"_s{os.getpid()}{random.randrange(1000, 9999)}"
        state = base / f"stack{suffix}"
        state.mkdir(parents=True)
        return cls(state_dir=state, offset=free_offset(), db_suffix=suffix)

    # -- planning --------------------------------------------------------------------------------------

    def build(self) -> None:
        stack = load_stack_module()
        saved = {
            k: os.environ.pop(k) for k in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_IDEMPOTENCE") if k in os.environ
        }
        try:
            args = stack.parse_args(
                ["--no-demo", "--private-postgres", "--state-dir", str(self.state_dir),
                 "--port-offset", str(self.offset), "--db-suffix", self.db_suffix]
            )  # fmt: skip
            self.plan = stack.build_plan(args, say=lambda text: self.note(f"plan: {text}"))
        finally:
            os.environ.update(saved)
        self.procs = {p.name: p for p in self.plan.procs}

    @property
    def urls(self) -> dict[str, str]:
        return dict(self.plan.services)

    @property
    def mail_api(self) -> str:
        return str(self.plan.mail_web).rstrip("/")

    @property
    def broker(self) -> str:
        return str(self.plan.broker)

    @property
    def log_dir(self) -> Path:
        path = self.state_dir / "logs"
        path.mkdir(exist_ok=True)
        return path

    def note(self, text: str) -> None:
        with open(self.log_dir / "harness.log", "a") as out:
            out.write(f"{time.strftime('%H:%M:%S')} {text}\n")

    # -- processes -------------------------------------------------------------------------------------

    def start(self, name: str) -> None:
        proc = self.procs[name]
        assert name not in self.running or self.running[name].popen.poll() is not None, f"{name} runs"
        with open(self.log_dir / f"{name}.log", "ab") as out:
            popen = subprocess.Popen(
                proc.argv, env=proc.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.running[name] = Running(popen, time.monotonic())
        self.note(f"started {name} (pid {popen.pid})")

    def start_all(self) -> None:
        for name in self.procs:
            self.start(name)

    def signal(self, name: str, sig: signal.Signals) -> None:
        running = self.running[name]
        self.note(f"{sig.name} to {name} (pid {running.popen.pid})")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(running.popen.pid, sig)

    def wait_exit(self, name: str, timeout: float) -> int | None:
        try:
            return self.running[name].popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash or an OOM kill."""
        self.signal(name, signal.SIGKILL)
        assert self.wait_exit(name, 10) is not None, f"{name} survived SIGKILL"

    def stop(self, name: str) -> None:
        """The process's own orderly stop, escalated as deploy/local/stack.py does."""
        for sig, wait in self.procs[name].stop:
            self.signal(name, sig)
            if self.wait_exit(name, wait) is not None:
                return
        self.kill(name)

    def restart(self, name: str) -> None:
        self.restarts[name] = self.restarts.get(name, 0) + 1
        self.start(name)

    def stop_all(self) -> None:
        for tier in sorted({p.tier for p in self.procs.values()}):
            for name, proc in self.procs.items():
                if proc.tier == tier and name in self.running and self.running[name].popen.poll() is None:
                    self.stop(name)

    def alive(self, name: str) -> bool:
        return name in self.running and self.running[name].popen.poll() is None

    def exited(self) -> dict[str, int]:
        """Processes that stopped by themselves (not through this harness): a crash to report."""
        return {n: r.popen.returncode for n, r in self.running.items() if r.popen.poll() is not None}

    # -- readiness -------------------------------------------------------------------------------------

    def ready(self, names: list[str] | None = None) -> list[str]:
        """Services (of ``names``, default all) whose /readyz does not answer 200 yet."""
        pending = []
        for name, url in self.urls.items():
            if names is not None and name not in names:
                continue
            if not answers_200(f"{url}/readyz"):
                pending.append(name)
        return pending

    def wait_ready(self, timeout: float = 120.0, names: list[str] | None = None) -> None:
        deadline = time.monotonic() + timeout
        while True:
            pending = self.ready(names)
            if not names:
                pending += [name for name, url in self.extra_checks().items() if not answers_200(url)]
            if not pending:
                return
            dead = [n for n in (names or list(self.procs)) if n in self.running and not self.alive(n)]
            if dead:
                raise AssertionError(f"stopped while starting: {dead}\n{self.tail(dead[0])}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not ready after {timeout} s: {pending}\n{self.tail(pending[0])}")
            time.sleep(0.3)

    def extra_checks(self) -> dict[str, str]:
        """What answers besides the services: the mail catcher, the web client, the gateway."""
        checks = {"mail": f"{self.mail_api}/messages/"}
        if getattr(self.plan, "web", ""):
            checks["web"] = f"{self.plan.web}/readyz"
        if getattr(self.plan, "gateway", ""):
            checks["gateway"] = f"{self.plan.gateway}/gateway/healthz"
        if getattr(self.plan, "comanda", ""):
            checks["COMANDA"] = f"{self.plan.comanda}/healthz"
        return checks

    @property
    def gateway_urls(self) -> dict[str, str]:
        """Each service's API through the gateway, as the web client and people reach it."""
        return {name: f"{self.plan.gateway}/api/{name}" for name in self.urls}

    def tail(self, name: str, lines: int = 60) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return f"(no log for {name})"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def log_text(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""
