"""``python -m attentions run|api|worker|relay|migrate``."""

from __future__ import annotations

import sys

from crmkit.entrypoint import service_main

from attentions.service import define


def main() -> int:
    return service_main(define)


if __name__ == "__main__":
    sys.exit(main())
