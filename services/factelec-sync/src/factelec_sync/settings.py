"""Configuration of the factelec-sync service, from the environment.

The FACTELEC side is configuration, not code: which adapter reads it (``FACTELEC_SOURCE_KIND``), where
(``FACTELEC_SOURCE_DSN``), the query that returns supply points changed after a watermark
(``FACTELEC_SOURCE_QUERY``), which result column carries each contract field
(``FACTELEC_SOURCE_COLUMNS``, JSON) and what the source's status codes mean
(``FACTELEC_SOURCE_STATUSES``, JSON). The defaults read the demo database (``python -m factelec_sync
demo-source``). See docs/factelec-sync.md.
"""

from __future__ import annotations

from crmkit.auth import AuthSettings
from crmkit.settings import KitSettings
from pydantic import Field

# The source query gets these named parameters (written `:name`; each adapter binds them its own way):
#   :after_ts, :after_key  the committed watermark (exclusive); :after_key is NULL before the first run
#   :until_ts              upper bound of the update timestamp (inclusive): the source's clock minus
#                          FACTELEC_SOURCE_SETTLE_S, or far in the future for a reconciliation scan
#   :limit                 the batch size
# It must return rows in (update timestamp, key) order, compare with a row comparison so that equal
# timestamps are paged by key, and use LEFT JOINs (an inner join would hide a supply point whose
# customer or municipality is missing: it would be retired instead of quarantined).
DEMO_SOURCE_QUERY = """
SELECT s.id_suministro, s.nic, c.nombre_titular, s.direccion, m.nombre AS municipio,
       d.nombre AS departamento, s.codigo_tarifa, s.numero_medidor, s.estado_conexion,
       s.fecha_actualizacion
FROM suministros s
LEFT JOIN clientes c ON c.id_cliente = s.id_cliente
LEFT JOIN municipios m ON m.id_municipio = s.id_municipio
LEFT JOIN departamentos d ON d.id_departamento = m.id_departamento
WHERE (s.fecha_actualizacion, s.id_suministro) > (:after_ts, :after_key)
  AND s.fecha_actualizacion <= :until_ts
ORDER BY s.fecha_actualizacion, s.id_suministro
LIMIT :limit
"""

# Optional: how many source rows are newer than the watermark (progress bar total, lag metric).
DEMO_COUNT_QUERY = """
SELECT count(*) FROM suministros s
WHERE (s.fecha_actualizacion, s.id_suministro) > (:after_ts, :after_key)
  AND s.fecha_actualizacion <= :until_ts
"""

# Contract field -> result column. `key` (the source's unique, non-null row key used to page) and
# `source_updated_at` (the update timestamp) also make the watermark.
DEMO_COLUMNS: dict[str, str] = {
    "key": "id_suministro",
    "nic": "nic",
    "holder": "nombre_titular",
    "address": "direccion",
    "municipality": "municipio",
    "department": "departamento",
    "tariff": "codigo_tarifa",
    "meter": "numero_medidor",
    "connection_status": "estado_conexion",
    "source_updated_at": "fecha_actualizacion",
}

# Source status code (compared trimmed and upper-cased) -> contract connection_status.
DEMO_STATUSES: dict[str, str] = {
    "C": "connected",
    "D": "disconnected",
    "S": "suspended",
}


class Settings(KitSettings, AuthSettings):
    service_name: str = "factelec-sync"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/crm_factelec_sync"
    http_port: int = 8105

    # -- the source (FACTELEC) -----------------------------------------------------------------------
    factelec_source_kind: str = Field(
        default="postgresql", description="Adapter that reads FACTELEC (source/__init__.py ADAPTERS)."
    )
    factelec_source_dsn: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/factelec_demo",
        description="Connection string of FACTELEC's database (read-only access is enough).",
    )
    factelec_source_query: str = Field(default=DEMO_SOURCE_QUERY, description="Changes after a watermark.")
    factelec_source_count_query: str | None = Field(
        default=DEMO_COUNT_QUERY, description="Optional count of rows after the watermark; empty: none."
    )
    factelec_source_columns: dict[str, str] = Field(default_factory=lambda: dict(DEMO_COLUMNS))
    factelec_source_statuses: dict[str, str] = Field(default_factory=lambda: dict(DEMO_STATUSES))
    factelec_source_timezone: str = Field(
        default="America/El_Salvador", description="Zone of update timestamps the source gives without one."
    )
    factelec_source_settle_s: float = Field(
        default=2.0,
        description="Rows updated in the last N seconds wait for the next run, so that a FACTELEC "
        "transaction that stamped its rows earlier but commits later is not passed by the watermark.",
    )
    factelec_source_statement_timeout_s: float = Field(
        default=300.0, description="Statement timeout on the source session, seconds (0: none)."
    )
    factelec_source_stream: bool = Field(
        default=True,
        description="Read a run's rows with one query through a server-side cursor (one plan, one "
        "snapshot; for a full load one sort instead of an index walk per page). False: one keyset query "
        "per page (LIMIT batch), for engines or setups where a long read transaction is unwelcome.",
    )

    # -- the sync ------------------------------------------------------------------------------------
    factelec_batch_size: int = Field(default=10_000, ge=1, le=100_000)
    factelec_max_inflight_batches: int = Field(default=3, ge=1, le=16)
    factelec_sync_interval_s: float = Field(
        default=60.0, description="Incremental run every N seconds inside the service (`run`/`worker`)."
    )
    factelec_reconcile_interval_s: float = Field(
        default=6 * 3600.0, description="Full reconciliation at most this often (0: never on schedule)."
    )
    factelec_max_retire_fraction: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="A reconciliation that would retire more than this share of the known supply points "
        "stops before retiring any (a misconfigured query or an empty source must not retire everything); "
        "`sync --full --allow-mass-retire` overrides it once.",
    )
    factelec_metrics_refresh_s: float = Field(default=15.0, description="Lag gauges refresh period.")
    factelec_producer_max_batch_bytes: int = Field(
        default=1_000_000, description="Record batch size; stays under Kafka's default message.max.bytes."
    )

    # -- the read API --------------------------------------------------------------------------------
    factelec_api_roles: list[str] = Field(
        default_factory=lambda: ["admin"], description="Roles that may read runs and quarantined rows."
    )
