"""``python -m tickets.comanda_sim``: the COMANDA simulator's command line.

    python -m tickets.comanda_sim inbox --user u-jperez
    python -m tickets.comanda_sim accept TCK-2026-000311
    python -m tickets.comanda_sim start TCK-2026-000311
    python -m tickets.comanda_sim close TCK-2026-000311 --resolution "Medidor reemplazado"
    python -m tickets.comanda_sim reopen TCK-2026-000311 --reason "El cliente reporta la falla de nuevo"
    python -m tickets.comanda_sim run          # keep consuming, print each assignment as it arrives
    python -m tickets.comanda_sim serve --port 8107   # the same, with the inbox page (page.py)

Every command first catches up on the assignments published so far (a change to a ticket already in the
local inbox is published at once). The broker and topic prefix come from
KAFKA_BOOTSTRAP_SERVERS and TOPIC_PREFIX (as for every service); the inbox and the per-ticket sequences are
kept in a small SQLite file (``--state``), so that sequences keep increasing from one command to the next.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import uvicorn
from crmkit.settings import KitSettings

from tickets.comanda_sim.page import build_page
from tickets.comanda_sim.simulator import ComandaSimulator, SimulatorError
from tickets.comanda_sim.store import InboxItem, MemoryStore, SqliteStore


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tickets.comanda_sim", description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap-servers", help="default: KAFKA_BOOTSTRAP_SERVERS")
    p.add_argument("--topic-prefix", help="default: TOPIC_PREFIX")
    p.add_argument("--group", default="comanda-sim", help="consumer group (prefixed like the services')")
    p.add_argument("--state", type=Path, help="SQLite file of the inbox (var/comanda-sim/<prefix>.db)")
    p.add_argument("--memory", action="store_true", help="keep nothing between runs")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("sync", help="consume the assignments published so far")
    inbox = sub.add_parser("inbox", help="a person's inbox")
    inbox.add_argument("--user", required=True, help="user id (responsible or in copy)")
    inbox.add_argument("--all", action="store_true", help="closed tickets too")
    inbox.add_argument("--json", action="store_true", help="one JSON object per line")
    for name, help_text in (("accept", "accept a ticket"), ("start", "mark a ticket in progress")):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("ticket", help="ticket id or code")
        cmd.add_argument("--as", dest="by", help="COMANDA user making the change (default: responsible)")
    close = sub.add_parser("close", help="close a ticket")
    close.add_argument("ticket")
    close.add_argument("--resolution", required=True)
    close.add_argument("--as", dest="by")
    reopen = sub.add_parser("reopen", help="reopen a closed ticket")
    reopen.add_argument("ticket")
    reopen.add_argument("--reason", required=True)
    reopen.add_argument("--as", dest="by")
    sub.add_parser("run", help="consume assignments until interrupted, printing each")
    serve = sub.add_parser("serve", help="consume assignments and serve the inbox page until interrupted")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8107)
    return p


def _line(role: str, item: InboxItem) -> str:
    return (
        f"{item.code:<18} {item.status:<12} due {item.due_date.isoformat()}  {role:<11} "
        f"{item.responsibility[:60]}  ({item.ticket_id})"
    )


async def _main(args: argparse.Namespace) -> int:
    settings = KitSettings()
    bootstrap = args.bootstrap_servers or settings.kafka_bootstrap_servers
    prefix = settings.topic_prefix if args.topic_prefix is None else args.topic_prefix
    if args.memory:
        store: Any = MemoryStore()
    else:
        default = Path("var") / "comanda-sim" / f"{prefix.rstrip('.') or 'default'}.db"
        store = SqliteStore(args.state or default)
    sim = ComandaSimulator(bootstrap, topic_prefix=prefix, group=args.group, store=store)
    # A change to a ticket already in the local inbox needs no catching up first (joining the group is slow).
    known = getattr(args, "ticket", None) is not None and store.get(args.ticket) is not None
    await sim.start(consume=not known)
    try:
        added = [] if known else await sim.sync()
        if args.command == "sync":
            print(json.dumps({"new_assignments": [i.code for i in added]}))
        elif args.command == "inbox":
            entries = sim.inbox(args.user, include_closed=args.all)
            for role, item in entries:
                print(json.dumps({"role": role, **item.to_json()}) if args.json else _line(role, item))
            if not entries and not args.json:
                print(f"(no {'' if args.all else 'open '}tickets for {args.user})")
        elif args.command == "run":
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            sim.on_assignment = lambda item: print(_line("assigned", item), flush=True)
            await sim.run(stop)
        elif args.command == "serve":
            server = uvicorn.Server(
                uvicorn.Config(build_page(sim), host=args.host, port=args.port, log_level="warning")
            )
            print(f"COMANDA (simulador): http://{args.host}:{args.port}/", flush=True)
            await server.serve()
        else:
            actions = {
                "accept": lambda: sim.accept(args.ticket, by=args.by),
                "start": lambda: sim.start_work(args.ticket, by=args.by),
                "close": lambda: sim.close(args.ticket, args.resolution, by=args.by),
                "reopen": lambda: sim.reopen(args.ticket, args.reason, by=args.by),
            }
            envelope = await actions[args.command]()
            print(json.dumps({"published": json.loads(envelope.model_dump_json())}, ensure_ascii=False))
        return 0
    except SimulatorError as exc:
        print(f"comanda-sim: {exc}", file=sys.stderr)
        return 2
    finally:
        await sim.stop()
        store.close()


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(_main(parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
