"""Configuration from the environment (pydantic-settings). Every service extends ``KitSettings``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = Field(default="crm", description="Name used as producer, consumer group and in logs.")
    database_url: str = Field(default="postgresql://postgres@127.0.0.1:5432/crm")
    # Connections per process. More than a few busy backends per core only adds PostgreSQL's contention.
    database_pool_size: int = Field(default=10, ge=1, le=100)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Apache Kafka: True. The Tansu memory broker cannot answer InitProducerId, so it must be False there.
    kafka_idempotence: bool = False
    kafka_acks: str = "all"
    # Prepended to every topic name: lets tests (and several environments on one cluster) stay apart.
    topic_prefix: str = ""
    # Create the registry's topics at start (local stack, tests). Production creates them from manifests.
    create_topics: bool = True
    topic_replication_factor: int = 1

    relay_batch_size: int = 2000
    relay_poll_interval_s: float = 1.0
    relay_standby_interval_s: float = 1.0
    # After a NOTIFY wakes an idle relay, it waits this long before reading, so the rows committed meanwhile
    # go out in one batch (as a Kafka producer's linger.ms): at hundreds of single-row commits a second the
    # relay otherwise reads, sends and marks one row at a time. 0 turns it off.
    relay_linger_ms: float = Field(default=5.0, ge=0, le=1000)
    outbox_retention_hours: float = 72.0
    inbox_retention_days: float = 30.0
    # How long an Idempotency-Key's answer is kept (crmkit.idempotency): longer than any client retries.
    idempotency_retention_hours: float = 72.0

    consumer_max_records: int = 500
    consumer_fetch_max_wait_ms: int = 20
    consumer_session_timeout_ms: int = 10_000
    consumer_heartbeat_interval_ms: int = 3_000
    # Consumers of the service's group in one worker process (see crmkit.worker).
    consumer_concurrency: int = 1
    consumer_max_attempts: int = 5
    consumer_retry_backoff_s: float = 0.2
    consumer_retry_backoff_max_s: float = 5.0

    # Allocations between young-generation collections (Python's default is 700; 0 keeps the default).
    # A batch of a thousand events allocates tens of thousands of short-lived objects: with the default,
    # the collector took about a third of a worker's CPU in the tickets benchmark.
    gc_gen0_threshold: int = 50_000

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Several processes of one service on one host share the port (SO_REUSEPORT: the kernel spreads the
    # connections): how one machine's cores serve one API. Off by default, so a port taken by mistake is
    # an error rather than a silent neighbour.
    http_reuse_port: bool = False
    log_level: str = "INFO"
    log_json: bool = True

    def topic(self, logical_name: str) -> str:
        return f"{self.topic_prefix}{logical_name}"

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}{self.service_name}"
