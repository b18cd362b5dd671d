"""``python -m factelec_sync run|api|worker|relay|migrate``."""

from __future__ import annotations

import sys

from crmkit.entrypoint import service_main

from factelec_sync.service import define


def main() -> int:
    return service_main(define)


if __name__ == "__main__":
    sys.exit(main())
