"""`make bench`: run every benchmark, then write docs/benchmarks.md from their results.

python3 -m uv run python benchmarks/run.py [--only kit,tickets] [--render-only]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "benchmarks"

# name -> (command, what it measures, targets)
BENCHMARKS: dict[str, tuple[list[str], str, str]] = {
    "kit": (
        ["benchmarks/kit_bench.py", "--events", "50000"],
        "Outbox relay and idempotent consumer beside raw aiokafka produce/consume on the same broker.",
        "relay >= 0.5 x raw produce; commit-to-consumer p99 < 100 ms; "
        "idempotent consume >= 10,000/s per worker",
    ),
    "attentions": (
        ["benchmarks/attentions_bench.py"],
        "Create and list attentions at 32 concurrent clients beside a bare asyncpg insert loop.",
        ">= 800 creates/s with p99 < 50 ms",
    ),
    "tickets": (
        ["benchmarks/tickets_bench.py"],
        "COMANDA closure ingestion beside raw consume; rollup latency COMANDA publish -> TicketClosed.",
        ">= 10,000 closures/s per worker; rollup p99 < 250 ms",
    ),
    "rollup": (
        ["benchmarks/rollup_bench.py"],
        "Local stack as `make up` runs it: a COMANDA closure published -> the event closable in the "
        "attentions API (through the gateway).",
        "p99 < 250 ms",
    ),
    "notifications": (
        ["benchmarks/notifications_bench.py"],
        "TicketAssigned -> email accepted (p50/p99); a burst of 5,000 assignments beside raw aiosmtplib.",
        "p99 < 1 s; the burst at least half the raw rate",
    ),
    "system": (
        ["benchmarks/system_bench.py"],
        "A ticket created through the attentions API -> its assignment email accepted by the SMTP server.",
        "p99 < 1 s",
    ),
    "factelec": (
        ["benchmarks/factelec_bench.py"],
        "Full sync of 1,000,000 supply points source -> topic -> replica beside raw COPY.",
        "1,000,000 in < 30 s end to end, < 300 MB per process",
    ),
    "reports": (
        ["benchmarks/reports_bench.py"],
        "One-year reports on 1,000,000 attentions and 3,000,000 events+tickets; XLSX export of 100,000 rows.",
        "report p95 < 300 ms; the export < 10 s in < 300 MB",
    ),
}


def render() -> str:
    lines = [
        "# Benchmarks",
        "",
        "Every benchmark of the project, with the command to reproduce it. Figures are from the last run on",
        "the machine named in each section (a 2-core box; the Tansu broker and PostgreSQL 15 on loopback).",
        "Each compares with the raw limit measured in the same run. Regenerate: `make bench`",
        "(or one: `python3 -m uv run python benchmarks/run.py --only kit`).",
        "",
    ]
    for name, (command, what, targets) in BENCHMARKS.items():
        path = RESULTS / f"{name}.json"
        lines += [f"## {name}", "", what, "", f"Command: `python3 -m uv run python {' '.join(command)}`", ""]
        lines += [f"Targets: {targets}.", ""]
        if not path.exists():
            lines += ["Not measured yet.", ""]
            continue
        data: dict[str, Any] = json.loads(path.read_text())
        machine = data.pop("machine", {})
        lines += [
            f"Machine: {machine.get('cpus')} CPUs, Python {machine.get('python')}, {machine.get('date')}.",
            "",
            "| figure | value |",
            "|---|---|",
        ]
        for key, value in _flatten(data):
            shown = f"{value:,}" if isinstance(value, int | float) and not isinstance(value, bool) else value
            lines.append(f"| {key} | {shown} |")
        lines.append("")
    return "\n".join(lines)


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    if not args.render_only:
        chosen = args.only.split(",") if args.only else list(BENCHMARKS)
        for name in chosen:
            command = BENCHMARKS[name][0]
            if not (ROOT / command[0]).exists():
                print(f"skipping {name}: {command[0]} does not exist yet")
                continue
            print(f"== {name}")
            subprocess.run([sys.executable, *command], cwd=ROOT, check=True)
    (ROOT / "docs" / "benchmarks.md").write_text(render())
    print("docs/benchmarks.md written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
