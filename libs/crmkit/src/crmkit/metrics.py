"""Prometheus metrics shared by every service (one process runs one service, so labels stay small)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_LATENCY = Histogram(
    "crm_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_BACKLOG = Gauge("crm_outbox_backlog", "Outbox rows not yet published")
OUTBOX_PUBLISHED = Counter("crm_outbox_published_total", "Outbox rows published to Kafka")
OUTBOX_PUBLISH_LAG = Histogram(
    "crm_outbox_publish_lag_seconds",
    "Time from outbox insert to broker acknowledgement",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120),
)
RELAY_LEADER = Gauge("crm_relay_leader", "1 while this relay instance holds the outbox lock")
RELAY_ERRORS = Counter("crm_relay_errors_total", "Relay publish attempts that failed", ["kind"])
CONSUMED = Counter("crm_consumer_events_total", "Consumed records by outcome", ["topic", "outcome"])
CONSUMER_LAG = Gauge("crm_consumer_lag", "Records behind the partition end", ["topic", "partition"])
DEAD_LETTERS = Counter("crm_dead_letters_total", "Records sent to the dead-letter topic", ["topic"])
HANDLER_RETRIES = Counter("crm_consumer_retries_total", "Handler retries after a failure", ["topic"])
