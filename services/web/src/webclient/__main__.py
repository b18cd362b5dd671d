"""``python -m webclient run``: the web client's HTTP server (no database, no broker)."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from webclient.app import build_app
from webclient.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="webclient")
    parser.add_argument("command", choices=["run"], help="serve the web client")
    parser.parse_args(argv)
    settings = Settings()
    uvicorn.run(
        build_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
