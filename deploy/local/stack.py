"""The whole EDESAL CRM on one machine, without Docker (``make up``). Ctrl-C stops everything it started.

Processes, run by honcho (one process group each, output multiplexed with a name prefix):

- ``postgres``: a private PostgreSQL cluster in ``<state-dir>/pgdata``, only when neither DATABASE_URL is set
  nor a server answers on 127.0.0.1:5432 (or with ``--private-postgres``);
- ``broker``: the Tansu Kafka-protocol broker (memory storage), unless KAFKA_BOOTSTRAP_SERVERS is set;
- ``mail``: maildump, an SMTP catcher that keeps every mail (``<state-dir>/maildump.sqlite``) with a web UI;
- one process per service (``python -m <service> run``), each behind ``await_infra.py``, which waits for
  PostgreSQL and the broker and creates every topic before it becomes the service;
- ``web``: the web client (``python -m webclient run``), which calls the APIs through the gateway;
- ``gateway``: nginx with deploy/gateway/nginx.conf.template rendered for this stack's ports
  (``/api/<service>/`` to each service, ``/`` to the web client).

Once every service's ``/readyz`` answers 200, ``demo.load_demo_data`` runs (unless ``--no-demo``) and a banner
lists the addresses. SIGINT or SIGTERM stops the processes in order: services first (they finish their work in
flight), then the broker and the mail catcher, then the private PostgreSQL; each is escalated to SIGKILL only
after its grace period. Exit status 0 after a signal, 1 when a process stopped by itself, 2 on a setup error.
See deploy/local/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import io
import os
import re
import shlex
import shutil
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from crmkit import localstack
from honcho.manager import Manager
from honcho.printer import Message, Printer

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# (process name, package): each package has ``settings.Settings`` and runs as ``python -m <package> run``.
SERVICES: tuple[tuple[str, str], ...] = (
    ("attentions", "attentions"),
    ("tickets", "tickets"),
    ("notifications", "notifications"),
    ("reports", "reports"),
    ("factelec-sync", "factelec_sync"),
)
BROKER_PORT = 9092
SMTP_PORT = 1025
MAIL_WEB_PORT = 1080
PRIVATE_PG_PORT = 5433
WEB_PORT = 8106
COMANDA_PAGE_PORT = 8107
GATEWAY_PORT = 8080
GATEWAY_TEMPLATE = ROOT / "deploy" / "gateway" / "nginx.conf.template"

# Stop order and escalation: (signal, seconds to wait for the process before the next step); SIGKILL last.
SERVICE_TIER, INFRA_TIER, POSTGRES_TIER = 0, 1, 2
SERVICE_STOP = ((signal.SIGTERM, 30.0),)
INFRA_STOP = ((signal.SIGTERM, 10.0),)
# PostgreSQL: SIGINT is its "fast" shutdown (what pg_ctl uses), SIGQUIT the immediate one.
POSTGRES_STOP = ((signal.SIGINT, 30.0), (signal.SIGQUIT, 5.0))
KILL_WAIT = 5.0


class StackError(Exception):
    """A setup problem reported to the person in one clear sentence (exit status 2)."""


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    tier: int
    stop: tuple[tuple[signal.Signals, float], ...]

    @property
    def shell_command(self) -> str:
        # honcho runs a shell line; exec so the process itself leads the process group honcho signals.
        return "exec " + shlex.join(self.argv)


@dataclass
class Plan:
    procs: list[Proc] = field(default_factory=list)
    services: dict[str, str] = field(default_factory=dict)  # name -> API base URL
    databases: dict[str, str] = field(default_factory=dict)  # name -> database name
    postgres: str = ""
    broker: str = ""
    broker_note: str = ""
    smtp: str = ""
    mail_web: str = ""
    factelec_source: str = ""  # URL of the FACTELEC demo database (filled by the demo data step)
    web: str = ""  # the web client's own address
    comanda: str = ""  # the COMANDA simulator's inbox page
    gateway: str = ""  # nginx: the address people open


# -- planning --------------------------------------------------------------------------------------------


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could listen on the port (with SO_REUSEADDR, as servers bind)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(ports: Mapping[str, int]) -> None:
    taken = [f"{port} ({what})" for what, port in ports.items() if not port_is_free(port)]
    if taken:
        raise StackError(
            "port(s) already in use on 127.0.0.1: "
            + ", ".join(taken)
            + ". Stop what uses them (another `make up`?) or move this stack with --port-offset N"
            + " (and --broker-port / --pg-port)."
        )


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def setpriv_command(argv: list[str]) -> list[str]:
    """Run PostgreSQL as its user without ``runuser``: runuser answers SIGTERM/SIGINT by killing its child
    with SIGKILL two seconds later, which would cut PostgreSQL's shutdown short. setpriv execs instead."""
    if argv[:4] == ["runuser", "-u", "postgres", "--"]:
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *argv[4:]]
    return argv


def service_defaults(package: str) -> tuple[str, int]:
    """The database name and HTTP port of a service's Settings defaults."""
    settings_cls: Any = importlib.import_module(f"{package}.settings").Settings
    fields = settings_cls.model_fields
    database = urlsplit(fields["database_url"].default).path.lstrip("/")
    return database, int(fields["http_port"].default)


def build_plan(args: argparse.Namespace, say: Callable[[str], None]) -> Plan:
    offset: int = args.port_offset
    state: Path = args.state_dir
    state.mkdir(parents=True, exist_ok=True)
    plan = Plan()
    base_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ports: dict[str, int] = {}

    # PostgreSQL
    existing = None if args.private_postgres else localstack.existing_postgres_url()
    pg_proc: Proc | None = None
    if existing:
        admin_url = existing
        plan.postgres = f"{redact(existing)} (existing server, left running)"
    else:
        pg_port = args.pg_port or PRIVATE_PG_PORT + offset
        ports["private PostgreSQL"] = pg_port
        check_ports(ports)
        cluster = localstack.PostgresCluster(state / "pgdata", pg_port, localstack.postgres_bin_dir())
        if not (cluster.data_dir / "PG_VERSION").exists():
            say(f"initialising a private PostgreSQL cluster in {cluster.data_dir}")
        cluster.init()
        admin_url = cluster.url
        plan.postgres = f"{cluster.url} (private cluster in {cluster.data_dir})"
        pg_proc = Proc("postgres", setpriv_command(cluster.command()), base_env, POSTGRES_TIER, POSTGRES_STOP)

    # Kafka-protocol broker
    broker_proc: Proc | None = None
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        plan.broker = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        idempotence = os.environ.get("KAFKA_IDEMPOTENCE", "true")
        plan.broker_note = "KAFKA_BOOTSTRAP_SERVERS"
    else:
        broker_port = args.broker_port or BROKER_PORT + offset
        ports["broker"] = broker_port
        plan.broker = f"127.0.0.1:{broker_port}"
        idempotence = "false"  # Tansu cannot answer InitProducerId
        plan.broker_note = "Tansu, memory storage: empty after every restart"
        broker_proc = Proc("broker", localstack.tansu_command(broker_port), base_env, INFRA_TIER, INFRA_STOP)

    # Mail catcher
    smtp_port, web_port = SMTP_PORT + offset, MAIL_WEB_PORT + offset
    ports["mail catcher SMTP"] = smtp_port
    ports["mail catcher web"] = web_port
    maildump = Path(sys.executable).parent / "maildump"
    if not maildump.exists():
        raise StackError("maildump is not installed in this environment: run `python3 -m uv sync`")
    plan.smtp = f"127.0.0.1:{smtp_port}"
    plan.mail_web = f"http://127.0.0.1:{web_port}/"
    mail_argv = [str(maildump), "--foreground", "--no-quit", "--smtp-ip", "127.0.0.1", "--smtp-port",
                 str(smtp_port), "--http-ip", "127.0.0.1", "--http-port", str(web_port),
                 "--db", str(state / "maildump.sqlite")]  # fmt: skip
    mail_env = {**base_env, "PYTHONWARNINGS": "ignore::UserWarning"}  # its pkg_resources deprecation notice
    mail_proc = Proc("mail", mail_argv, mail_env, INFRA_TIER, INFRA_STOP)

    # Services
    service_procs: list[Proc] = []
    for name, package in SERVICES:
        default_db, default_port = service_defaults(package)
        database = f"{default_db}{args.db_suffix}"
        port = default_port + offset
        ports[f"{name} API"] = port
        plan.databases[name] = database
        plan.services[name] = f"http://127.0.0.1:{port}"
        env = {
            **base_env,
            "STACK_ADMIN_DATABASE_URL": admin_url,
            "DATABASE_URL": localstack.with_database(admin_url, database),
            "KAFKA_BOOTSTRAP_SERVERS": plan.broker,
            "KAFKA_IDEMPOTENCE": idempotence,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
            "LOG_JSON": "false",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            # Development sign-in: the attentions service issues tokens (POST /dev/token) with this key and
            # every service trusts it. Never set in production configuration.
            "DEV_AUTH": "true",
            "DEV_AUTH_KEY_FILE": str(state / "dev-auth-key.pem"),
            "WEB_BASE_URL": f"http://127.0.0.1:{8080 + offset}",
        }
        if package == "factelec_sync":
            plan.factelec_source = localstack.with_database(admin_url, f"factelec_demo{args.db_suffix}")
            env["FACTELEC_SOURCE_DSN"] = plan.factelec_source
        argv = [sys.executable, str(HERE / "await_infra.py"), "--tcp", plan.smtp,
                "--lock", str(state / "run" / "topics.lock"), "--",
                sys.executable, "-m", package, "run"]  # fmt: skip
        service_procs.append(Proc(name, argv, env, SERVICE_TIER, SERVICE_STOP))

    # COMANDA, simulated: takes the assignments into inboxes; people close tickets on its page or its CLI.
    comanda_port = COMANDA_PAGE_PORT + offset
    ports["COMANDA simulator page"] = comanda_port
    plan.comanda = f"http://127.0.0.1:{comanda_port}"
    sim_env = {**base_env, "KAFKA_BOOTSTRAP_SERVERS": plan.broker}
    sim_argv = [sys.executable, str(HERE / "await_infra.py"), "--lock", str(state / "run" / "topics.lock"),
                "--", sys.executable, "-m", "tickets.comanda_sim", "--state", str(state / "comanda-sim.db"),
                "serve", "--port", str(comanda_port)]  # fmt: skip
    service_procs.append(Proc("comanda-sim", sim_argv, sim_env, SERVICE_TIER, SERVICE_STOP))

    # Web client and gateway (nginx)
    web_port, gateway_port = WEB_PORT + offset, GATEWAY_PORT + offset
    ports["web client"] = web_port
    ports["gateway"] = gateway_port
    plan.web = f"http://127.0.0.1:{web_port}"
    plan.gateway = f"http://127.0.0.1:{gateway_port}"
    web_env = {
        **base_env,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(web_port),
        "DEV_AUTH": "true",
        **{f"{name.upper()}_API_URL": f"{plan.gateway}/api/{name}" for name in ("attentions", "tickets")},
        "REPORTS_API_URL": f"{plan.gateway}/api/reports",
    }
    service_procs.append(
        Proc("web", [sys.executable, "-m", "webclient", "run"], web_env, SERVICE_TIER, SERVICE_STOP)
    )
    service_procs.append(
        Proc(
            "gateway",
            gateway_command(state / "nginx", plan, gateway_port),
            base_env,
            SERVICE_TIER,
            INFRA_STOP,
        )
    )

    check_ports(ports)
    plan.procs = [p for p in (pg_proc, broker_proc, mail_proc) if p is not None] + service_procs
    say(f"PostgreSQL: {plan.postgres}")
    say(f"broker: {plan.broker} ({plan.broker_note})")
    return plan


def render_gateway_config(template: str, values: Mapping[str, str]) -> str:
    """envsubst's job, as the official nginx image does it: only the ${NAME}s given are replaced, so nginx's
    own $variables stay as they are."""
    return re.sub(r"\$\{([A-Z_]+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def gateway_command(prefix: Path, plan: Plan, port: int) -> list[str]:
    """Render the gateway's configuration for this stack and return the nginx command (foreground)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise StackError("nginx is not installed: run scripts/setup.sh (or `apt-get install nginx`)")
    (prefix / "temp").mkdir(parents=True, exist_ok=True)
    (prefix / "logs").mkdir(exist_ok=True)
    upstream = {name: urlsplit(url).netloc for name, url in plan.services.items()}
    values = {
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "GATEWAY_PID_FILE": str(prefix / "nginx.pid"),
        "GATEWAY_TEMP_DIR": str(prefix / "temp"),
        "ATTENTIONS_UPSTREAM": upstream["attentions"],
        "TICKETS_UPSTREAM": upstream["tickets"],
        "NOTIFICATIONS_UPSTREAM": upstream["notifications"],
        "REPORTS_UPSTREAM": upstream["reports"],
        "FACTELEC_SYNC_UPSTREAM": upstream["factelec-sync"],
        "WEB_UPSTREAM": urlsplit(plan.web).netloc,
    }
    config = prefix / "nginx.conf"
    config.write_text(render_gateway_config(GATEWAY_TEMPLATE.read_text(), values))
    # -e: the error log before the configuration is read (else /var/log/nginx, not writable unprivileged).
    return [nginx, "-p", str(prefix), "-c", str(config), "-e", "stderr", "-g", "daemon off;"]


# -- running ---------------------------------------------------------------------------------------------


class LockedPrinter(Printer):
    """honcho's Printer, usable from several threads (the readiness and ordered-stop threads print too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.RLock()  # re-entrant: honcho's signal handler prints from the main thread

    def write(self, message: Message) -> None:
        with self._lock:
            super().write(message)


class OrderedManager(Manager):
    """honcho's Manager, stopping its processes tier by tier instead of all at once.

    honcho signals every process group at the same moment and SIGKILLs whatever is left after 5 s; services
    need PostgreSQL and the broker while they finish their work in flight, and PostgreSQL must not be
    SIGKILLed. So ``terminate`` (called by honcho on SIGINT/SIGTERM, or when any process stops) starts a
    thread that signals one tier, waits until honcho has seen all of its processes stop (their output pipe
    closed, so nothing that inherited it is left either), escalates per process when the grace period ends,
    and only then moves on to the next tier. honcho's loop keeps multiplexing output until all have stopped.
    """

    def __init__(self, printer: LockedPrinter, procs: Sequence[Proc]) -> None:
        super().__init__(printer)
        self.procs = {p.name: p for p in procs}
        self.stopped_by_signal = False
        self.first_stopped: str | None = None
        self.on_started: Callable[[], None] | None = None
        self._stopper: threading.Thread | None = None
        for p in procs:
            self.add_process(p.name, p.shell_command, env=p.env, cwd=str(ROOT))

    @property
    def stopping(self) -> bool:
        return self._stopper is not None

    def say(self, text: str, name: str = "system") -> None:
        """Print now, in order with honcho's own lines (safe from any thread)."""
        self._printer.write(Message("line", text, datetime.datetime.now(), name, None))

    def _start(self) -> None:
        super()._start()
        if self.on_started is not None:
            self.on_started()

    def terminate(self) -> None:
        if self._stopper is not None:
            return
        self._terminating = True
        # honcho's signal handler sets 130/143 before calling us; a stopped process sets its own code.
        self.stopped_by_signal = self.returncode in (130, 143)
        stopped = [n for n, p in self._processes.items() if "returncode" in p]
        if not self.stopped_by_signal and stopped:
            self.first_stopped = stopped[0]
            self.say(f"{stopped[0]} stopped by itself: stopping the stack")
        self._stopper = threading.Thread(target=self._stop_in_order, name="ordered-stop", daemon=True)
        self._stopper.start()

    def kill(self) -> None:
        # honcho calls this 5 s after the first process stopped; the ordered stop escalates per tier instead.
        if self._stopper is None:
            super().kill()

    def _running(self, name: str) -> bool:
        return "returncode" not in self._processes[name]

    def _signal(self, name: str, sig: signal.Signals) -> None:
        pid = self._processes[name].get("pid")
        if pid is None:
            return
        self.say(f"sending {sig.name} to {name} (pid {pid})")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)

    def _stop_in_order(self) -> None:
        for tier in sorted({p.tier for p in self.procs.values()}):
            members = [n for n, p in self.procs.items() if p.tier == tier]
            steps = {n: list(self.procs[n].stop) for n in members}
            next_step: dict[str, float] = {}
            while True:
                running = [n for n in members if self._running(n)]
                if not running:
                    break
                now = time.monotonic()
                for name in running:
                    if self._processes[name].get("pid") is None:
                        continue  # not started yet: signal it once honcho knows its pid
                    if name not in next_step or now >= next_step[name]:
                        sig, wait = steps[name].pop(0) if steps[name] else (signal.SIGKILL, KILL_WAIT)
                        self._signal(name, sig)
                        next_step[name] = now + wait
                time.sleep(0.05)


class LineWriter(io.TextIOBase):
    """A text stream whose complete lines go to the manager's output under one name."""

    def __init__(self, manager: OrderedManager, name: str) -> None:
        self.manager, self.name, self.buffer = manager, name, ""

    def write(self, text: str) -> int:
        self.buffer += text
        *lines, self.buffer = self.buffer.split("\n")
        for line in lines:
            self.manager.say(line, self.name)
        return len(text)

    def flush(self) -> None:
        if self.buffer:
            self.manager.say(self.buffer, self.name)
            self.buffer = ""


def answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def banner(plan: Plan) -> str:
    width = max(len(n) for n in plan.services) + 2
    lines = ["", "EDESAL CRM is running locally.", ""]
    lines += [f"  {name:<{width}}{url}/docs" for name, url in plan.services.items()]
    lines += [
        "",
        f"  {'web':<{width}}{plan.gateway}/  (the CRM in the browser, through the gateway)",
        f"  {'gateway':<{width}}{plan.gateway}/api/<service>/  (nginx; web client itself on {plan.web})",
        f"  {'mail':<{width}}{plan.mail_web}  (web UI and REST API; SMTP on {plan.smtp})",
        f"  {'COMANDA':<{width}}{plan.comanda}/  (simulated: each person's inbox; accept, close, reopen)",
        f"  {'broker':<{width}}{plan.broker}  ({plan.broker_note})",
        f"  {'PostgreSQL':<{width}}{plan.postgres}",
        f"  {'databases':<{width}}{', '.join(plan.databases.values())}",
        "",
        "Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def watch_readiness(manager: OrderedManager, plan: Plan, demo: bool) -> None:
    """Wait for every /readyz and the mail catcher, run the demo hook, print the banner."""
    checks = {name: f"{url}/readyz" for name, url in plan.services.items()}
    checks["mail"] = f"{plan.mail_web}messages/"
    checks["web"] = f"{plan.web}/readyz"
    checks["gateway"] = f"{plan.gateway}/gateway/healthz"
    checks["COMANDA"] = f"{plan.comanda}/healthz"
    pending = dict(checks)
    started = time.monotonic()
    next_note = started + 60
    while pending:
        if manager.stopping:
            return
        for name, url in list(pending.items()):
            if answers_200(url):
                del pending[name]
        if pending and time.monotonic() >= next_note:
            manager.say(
                f"still waiting for: {', '.join(pending)} ({time.monotonic() - started:.0f} s)", "stack"
            )
            next_note += 60
        if pending:
            time.sleep(0.3)
    manager.say(f"every service is ready after {time.monotonic() - started:.1f} s", "stack")
    if demo and not manager.stopping:
        writer = LineWriter(manager, "demo")
        try:
            sys.path.insert(0, str(ROOT))
            from deploy.local.demo import load_demo_data

            with contextlib.redirect_stdout(writer):
                load_demo_data(dict(plan.services), factelec_source=plan.factelec_source)
        except Exception as exc:  # the stack stays up: the person can look at what went wrong
            manager.say(f"demo data failed: {exc!r}", "demo")
        finally:
            writer.flush()
    if not manager.stopping:
        manager.say(banner(plan), "stack")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    env_offset = os.environ.get("STACK_PORT_OFFSET", "0")
    parser = argparse.ArgumentParser(prog="stack.py", description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--no-demo", action="store_true", help="do not load the demo data")
    add(
        "--state-dir",
        type=Path,
        default=ROOT / "var" / "local",
        help="private PostgreSQL data, kept mails, lock files (default: var/local)",
    )
    add(
        "--port-offset",
        type=int,
        default=int(env_offset),
        help="added to every port this stack listens on: service APIs 8101-8105, web 8106, gateway 8080, "
        "SMTP 1025, mail web 1080, "
        "and the defaults of --broker-port and --pg-port (env STACK_PORT_OFFSET; default 0)",
    )
    add("--broker-port", type=int, help=f"port of the Tansu broker (default {BROKER_PORT} + offset)")
    add("--pg-port", type=int, help=f"port of a private cluster (default {PRIVATE_PG_PORT} + offset)")
    add(
        "--private-postgres",
        action="store_true",
        help="run a private cluster even when a PostgreSQL server answers on 127.0.0.1:5432",
    )
    add(
        "--db-suffix",
        default=os.environ.get("STACK_DB_SUFFIX", ""),
        help="appended to every database name, e.g. _demo2 (env STACK_DB_SUFFIX)",
    )
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z0-9_]*", args.db_suffix):
        parser.error("--db-suffix may only hold lower-case letters, digits and _")
    args.state_dir = args.state_dir.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    printer = LockedPrinter(sys.stdout, width=max(len(name) for name, _ in SERVICES))

    def say(text: str) -> None:
        printer.write(Message("line", text, datetime.datetime.now(), "stack", None))

    try:
        plan = build_plan(args, say)
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0

    manager = OrderedManager(printer, plan.procs)
    manager.on_started = lambda: threading.Thread(
        target=watch_readiness, args=(manager, plan, not args.no_demo), name="readiness", daemon=True
    ).start()

    # A closed terminal (SIGHUP) stops the stack like Ctrl-C, instead of orphaning its processes.
    def hangup(signum: int, frame: FrameType | None) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGHUP, hangup)
    manager.loop()
    if manager.stopped_by_signal:
        say("stopped")
        return 0
    say(f"stopped because {manager.first_stopped or 'a process'} stopped by itself")
    return 1


if __name__ == "__main__":
    sys.exit(main())
