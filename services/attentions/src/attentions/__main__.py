"""``python -m attentions run|api|worker|relay|migrate``."""

from __future__ import annotations

import asyncio
import sys

from crmkit.entrypoint import service_main

from attentions.service import define


def main() -> int:
    # uvloop roughly halves the event loop's share of each request; uvicorn already picks httptools.
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - an optional speed-up
        pass
    return service_main(define)


if __name__ == "__main__":
    sys.exit(main())
