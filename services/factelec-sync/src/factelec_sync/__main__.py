"""``python -m factelec_sync run|api|worker|relay|migrate|sync|status|quarantine|demo-source|demo-mutate``."""

from __future__ import annotations

import sys

from factelec_sync.cli import main

if __name__ == "__main__":
    sys.exit(main())
