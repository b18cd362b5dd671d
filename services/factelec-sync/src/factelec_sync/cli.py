"""``python -m factelec_sync COMMAND``.

- ``run | api | worker | relay | migrate``: the kit's service commands (``crmkit.entrypoint``); ``run`` and
  ``worker`` also run the scheduled sync;
- ``sync [--full]``: one run now, with a progress bar and a summary (exit 0 done, 1 failed, 2 another run
  holds the lock);
- ``status``: the watermark, the lag behind the source and the last runs (JSON);
- ``quarantine``: quarantined source rows (JSON lines);
- ``demo-source --rows N``: create and fill a FACTELEC demo database; ``demo-mutate``: change some rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import sys
from typing import Any

import asyncpg
from crmkit.db import create_pool, migrate
from crmkit.entrypoint import service_main
from crmkit.kafka import ensure_topics
from crmkit.logs import configure_logging

from factelec_sync.domain.mapping import ConfigurationError
from factelec_sync.domain.runs import RunSummary
from factelec_sync.settings import Settings

SERVICE_COMMANDS = ("run", "api", "worker", "relay", "migrate")
log = logging.getLogger(__name__)


class TqdmProgress:
    """One progress bar per phase of a run, on stderr."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bar: Any = None

    def phase(self, name: str, total: int | None) -> None:
        from tqdm import tqdm

        self.close()
        self._bar = tqdm(
            total=total,
            desc=f"{name:>9}",
            unit=" rows",
            unit_scale=True,
            dynamic_ncols=True,
            file=sys.stderr,
            disable=not self.enabled,
            smoothing=0.1,
        )

    def advance(self, rows: int) -> None:
        if self._bar is not None:
            self._bar.update(rows)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries a parent's peak into a
    child over fork and exec, so a process started by a big one would report the parent's."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def format_summary(summary: RunSummary) -> str:
    c = summary.counters
    rate = summary.rows_per_s
    lines = [
        f"factelec sync run {summary.run_id} ({summary.kind}) {summary.status} "
        f"in {summary.duration_s or 0:.1f} s",
        f"  read         {c.read:>12,}" + (f"   ({rate:,.0f} rows/s)" if rate else ""),
        f"  published    {c.published:>12,}",
        f"  quarantined  {c.quarantined:>12,}",
        f"  retired      {c.retired:>12,}",
    ]
    if summary.watermark_to:
        lines.append(f"  watermark    {summary.watermark_to['ts']}  key {summary.watermark_to['key']!r}")
    lines.append(f"  peak memory  {peak_rss_mb():>12,.0f} MB")
    if summary.error:
        lines.append(f"  error        {summary.error}")
    return "\n".join(lines)


async def _prepare(settings: Settings) -> None:
    """What ``run`` does at start, for a standalone command: migrations and (locally) the topic."""
    from factelec_sync.service import MIGRATIONS, produced_topics

    await migrate(settings.database_url, [MIGRATIONS])
    if settings.create_topics:
        await ensure_topics(settings, produced_topics())


async def sync_command(args: argparse.Namespace, settings: Settings) -> int:
    from crmkit.runtime import tune_garbage_collector

    from factelec_sync.sync import RunFailed, RunInProgress, SupplyPointSync

    await _prepare(settings)
    # As the kit does for a worker: a run keeps pages of rows alive while it allocates several objects a
    # row, and default collector thresholds would rescan them over and over (measured: 3x the encoding
    # time).
    tune_garbage_collector(settings.gc_gen0_threshold)
    pool = await create_pool(settings.database_url, min_size=1, max_size=4)
    progress = TqdmProgress(enabled=not args.no_progress and not args.json)
    try:
        runner = SupplyPointSync(settings, pool)
        summary = await runner.run(
            full=args.full,
            trigger="cli",
            progress=progress,
            allow_mass_retire=args.allow_mass_retire,
            from_start=args.from_start,
        )
        code = 0
    except RunInProgress as exc:
        print(f"not started: {exc}", file=sys.stderr)
        return 2
    except RunFailed as exc:
        summary, code = exc.summary, 1
    finally:
        await pool.close()
    if args.json:
        print(json.dumps({**summary.as_dict(), "peak_rss_mb": round(peak_rss_mb(), 1)}), flush=True)
    else:
        print(format_summary(summary), flush=True)
    return code


async def status_command(settings: Settings) -> int:
    from factelec_sync.domain.mapping import SourceSchema
    from factelec_sync.source import open_source
    from factelec_sync.store import known, runs
    from factelec_sync.sync import measure_lag

    await _prepare(settings)
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    source = open_source(settings)
    try:
        await source.open()
        schema = SourceSchema.from_config(
            settings.factelec_source_columns,
            settings.factelec_source_statuses,
            settings.factelec_source_timezone,
        )
        lag = await measure_lag(pool, source, schema)
        async with pool.acquire() as conn:
            recent = await runs.recent(conn, 5)
            counts = await known.status_counts(conn)
    finally:
        await source.close()
        await pool.close()
    print(
        json.dumps(
            {
                "watermark": lag.watermark.as_json() if lag.watermark else None,
                "watermark_age_s": lag.watermark_age_s,
                "pending_rows": lag.pending_rows,
                "oldest_pending_age_s": lag.oldest_pending_age_s,
                "open_quarantine": lag.open_quarantine,
                "published_supply_points": counts,
                "recent_runs": [r.as_dict() for r in recent],
            },
            indent=2,
            default=str,
        )
    )
    return 0


async def quarantine_command(args: argparse.Namespace, settings: Settings) -> int:
    from factelec_sync.store import quarantine

    await _prepare(settings)
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            rows, total = await quarantine.listing(conn, args.state, args.limit, 0)
    finally:
        await pool.close()
    for row in rows:
        print(json.dumps(row, default=str, ensure_ascii=False))
    print(f"{len(rows)} of {total} ({args.state})", file=sys.stderr)
    return 0


async def demo_source_command(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from factelec_sync.demo_source import generator

    dsn = args.dsn or settings.factelec_source_dsn
    with tqdm(total=args.rows, unit=" rows", unit_scale=True, file=sys.stderr, disable=args.quiet) as bar:
        stats = await generator.fill(
            dsn, args.rows, bad_rows=args.bad_rows, seed=args.seed, reset=args.reset, progress=bar.update
        )
    print(
        json.dumps(
            {
                "dsn": dsn,
                "created_database": stats.created_database,
                "added": stats.rows,
                "bad_rows": stats.bad_rows,
                "first_id": stats.first_id,
                "total_rows": stats.total_rows,
                "seconds": round(stats.seconds, 2),
                "rows_per_s": round(stats.rows_per_s),
            }
        )
    )
    return 0


async def demo_mutate_command(args: argparse.Namespace, settings: Settings) -> int:
    from factelec_sync.demo_source import generator

    dsn = args.dsn or settings.factelec_source_dsn
    result = await generator.mutate(
        dsn,
        update=args.update,
        disconnect=args.disconnect,
        reconnect=args.reconnect,
        delete=args.delete,
        corrupt=args.corrupt,
        rename=args.rename,
        insert=args.insert,
        touch=not args.no_touch,
        same_timestamp=args.same_timestamp,
        seed=args.seed,
    )
    print(json.dumps({"changed": result.counts(), "stamped_at": str(result.stamped_at)}))
    if args.verbose:
        for kind, nics in vars(result).items():
            if isinstance(nics, list) and nics:
                print(f"{kind}: {' '.join(nics)}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m factelec_sync", description="EDESAL CRM: supply points synced from FACTELEC."
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="API, scheduled sync and relay in one process")
    sub.add_parser("api", help="the read API alone")
    sub.add_parser("worker", help="the scheduled sync alone")
    sub.add_parser("relay", help="the kit's outbox relay alone (this service publishes directly)")
    sub.add_parser("migrate", help="apply the database migrations")

    s = sub.add_parser("sync", help="one sync run now, with a progress bar and a summary")
    s.add_argument("--full", action="store_true", help="also reconcile: retire deleted, republish drifted")
    s.add_argument("--from-start", action="store_true", help="forget the watermark: republish every row")
    s.add_argument(
        "--allow-mass-retire", action="store_true", help="retire even more than FACTELEC_MAX_RETIRE_FRACTION"
    )
    s.add_argument("--batch-size", type=int, help="rows per page (FACTELEC_BATCH_SIZE)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--json", action="store_true", help="print the summary as one JSON line")

    sub.add_parser("status", help="watermark, lag behind the source, last runs (JSON)")
    q = sub.add_parser("quarantine", help="quarantined source rows (JSON lines)")
    q.add_argument("--state", choices=["open", "resolved", "all"], default="open")
    q.add_argument("--limit", type=int, default=100)

    d = sub.add_parser("demo-source", help="create (when missing) and fill a FACTELEC demo database")
    d.add_argument("--rows", type=int, default=20_000, help="supply points to add (default 20,000)")
    d.add_argument("--dsn", help="demo database URL (default FACTELEC_SOURCE_DSN)")
    d.add_argument("--bad-rows", type=int, help="rows to make invalid (default 0.2%% of --rows)")
    d.add_argument("--seed", type=int, help="random seed, for the same data twice")
    d.add_argument("--reset", action="store_true", help="drop the demo tables first")
    d.add_argument("--quiet", action="store_true", help="no progress bar")

    m = sub.add_parser("demo-mutate", help="change random rows of the demo database")
    m.add_argument("--dsn", help="demo database URL (default FACTELEC_SOURCE_DSN)")
    for name, what in (
        ("update", "change address and tariff"),
        ("disconnect", "set connected rows to D"),
        ("reconnect", "set disconnected rows to C"),
        ("delete", "delete rows"),
        ("corrupt", "set an invalid status code"),
        ("rename", "rename holders in clientes (never touches suministros)"),
        ("insert", "add new rows"),
    ):
        m.add_argument(f"--{name}", type=int, default=0, metavar="N", help=what)
    m.add_argument("--no-touch", action="store_true", help="status changes keep the old update timestamp")
    m.add_argument("--same-timestamp", action="store_true", help="one update timestamp for every change")
    m.add_argument("--seed", type=int)
    m.add_argument("--verbose", action="store_true", help="list the NICs changed")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SERVICE_COMMANDS:
        from factelec_sync.service import define

        return service_main(define, argv[:1])
    args = parser().parse_args(argv)
    if args.command in SERVICE_COMMANDS:  # e.g. `run --help` got here
        return 0
    settings = Settings()
    if getattr(args, "batch_size", None):
        settings = settings.model_copy(update={"factelec_batch_size": args.batch_size})
    configure_logging(settings.service_name, "WARNING", json=False)
    commands = {
        "sync": lambda: sync_command(args, settings),
        "status": lambda: status_command(settings),
        "quarantine": lambda: quarantine_command(args, settings),
        "demo-source": lambda: demo_source_command(args, settings),
        "demo-mutate": lambda: demo_mutate_command(args, settings),
    }
    try:
        return asyncio.run(commands[args.command]())
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, RuntimeError) as exc:
        # A database or broker that cannot be reached, migrations that fail: one line, not a traceback.
        print(f"{args.command} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
