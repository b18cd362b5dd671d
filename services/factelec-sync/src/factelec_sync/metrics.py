"""Prometheus metrics of the sync, served by the kit's ``/metrics`` (the service process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ROWS_READ = Counter("factelec_sync_rows_read_total", "Source rows read", ["phase"])
ROWS_PUBLISHED = Counter(
    "factelec_sync_events_published_total", "Events acknowledged by the broker", ["event"]
)
ROWS_QUARANTINED = Counter("factelec_sync_rows_quarantined_total", "Source rows quarantined")
RUNS = Counter("factelec_sync_runs_total", "Finished runs", ["kind", "status"])
LAST_SUCCESS = Gauge(
    "factelec_sync_last_success_timestamp_seconds", "End of the last successful run (unix time)", ["kind"]
)
RUN_DURATION = Gauge("factelec_sync_last_run_duration_seconds", "Duration of the last finished run", ["kind"])
WATERMARK_TS = Gauge("factelec_sync_watermark_timestamp_seconds", "Update timestamp of the watermark")
WATERMARK_AGE = Gauge(
    "factelec_sync_watermark_age_seconds", "Now minus the watermark's update timestamp (grows when idle)"
)
PENDING_ROWS = Gauge(
    "factelec_sync_pending_rows", "Source rows newer than the watermark (when a count query is configured)"
)
OLDEST_PENDING_AGE = Gauge(
    "factelec_sync_oldest_pending_age_seconds",
    "Age of the oldest source change not yet published (0 when caught up): the lag behind the source",
)
QUARANTINE_OPEN = Gauge("factelec_sync_quarantine_open", "Quarantined source rows not resolved")
RUN_IN_PROGRESS = Gauge("factelec_sync_run_in_progress", "1 while this process runs a sync")
