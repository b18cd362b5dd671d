"""`crmkit`: operations on the messaging plumbing (topics, dead letters)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from crm_contracts.registry import TOPICS, deadletter_topic

from crmkit.deadletter import read_dead_letters, replay
from crmkit.kafka import ensure_topics
from crmkit.settings import KitSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crmkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "create-topics", help="create every topic of the contracts registry, and the dead-letter topics"
    )
    dlq = sub.add_parser("dlq", help="dead letters of one service")
    dlq_sub = dlq.add_subparsers(dest="action", required=True)
    for name in ("list", "replay"):
        p = dlq_sub.add_parser(name)
        p.add_argument("--service", required=True, help="consumer (service) whose dead letters to read")
        if name == "replay":
            group = p.add_mutually_exclusive_group(required=True)
            group.add_argument("--offset", action="append", help="partition:offset in the dead-letter topic")
            group.add_argument("--all", action="store_true")
    args = parser.parse_args(argv)
    settings = KitSettings()

    if args.command == "create-topics":
        services = sorted({c for t in TOPICS for c in t.consumers if c != "comanda"})
        created = asyncio.run(
            ensure_topics(settings, [*TOPICS, *((deadletter_topic(s), 1) for s in services)])
        )
        print(json.dumps({"created": created}))
        return 0
    if args.action == "list":
        for letter in asyncio.run(read_dead_letters(settings, args.service)):
            print(json.dumps(letter.summary(), ensure_ascii=False))
        return 0
    chosen = asyncio.run(replay(settings, args.service, None if args.all else set(args.offset)))
    print(json.dumps({"replayed": [f"{d.partition}:{d.offset}" for d in chosen]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
