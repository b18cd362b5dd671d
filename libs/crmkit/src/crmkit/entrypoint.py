"""The command line of every service: ``python -m <service> run|api|worker|relay|migrate``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from crmkit.db import migrate
from crmkit.runtime import ALL_PARTS, ServiceDefinition, serve


def service_main(define: Callable[[], ServiceDefinition], argv: list[str] | None = None) -> int:
    definition = define()
    parser = argparse.ArgumentParser(prog=definition.name)
    parser.add_argument(
        "command",
        choices=["run", "api", "worker", "relay", "migrate"],
        help="run: API, worker and relay in one process; or one part alone; migrate: apply migrations only",
    )
    args = parser.parse_args(argv)
    if args.command == "migrate":
        asyncio.run(migrate(definition.settings.database_url, definition.migrations))
        return 0
    parts = ALL_PARTS if args.command == "run" else {args.command}
    asyncio.run(serve(definition, parts))
    return 0
