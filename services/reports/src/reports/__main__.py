"""``python -m reports run|api|worker|relay|migrate|rebuild``.

``rebuild`` empties the read model and replays the consumed topics from their start (see ``reports.rebuild``).
"""

from __future__ import annotations

import asyncio
import sys

from crmkit.entrypoint import service_main
from crmkit.logs import configure_logging

from reports.service import define


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["rebuild"]:
        from reports.rebuild import rebuild
        from reports.settings import Settings

        settings = Settings()
        configure_logging(settings.service_name, settings.log_level, settings.log_json)
        count = asyncio.run(rebuild(settings))
        print(f"read model rebuilt from {count} records")
        return 0
    return service_main(define, args)


if __name__ == "__main__":
    sys.exit(main())
