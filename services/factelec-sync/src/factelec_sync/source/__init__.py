"""Reading FACTELEC: the ``SupplyPointSource`` boundary and its adapters, picked by configuration."""

from __future__ import annotations

from collections.abc import Callable

from factelec_sync.domain.mapping import ConfigurationError
from factelec_sync.settings import Settings
from factelec_sync.source.base import SourceRow, SupplyPointSource
from factelec_sync.source.postgres import PostgresSupplyPointSource


def _postgresql(settings: Settings) -> SupplyPointSource:
    return PostgresSupplyPointSource(
        settings.factelec_source_dsn,
        settings.factelec_source_query,
        settings.factelec_source_count_query,
        settings.factelec_source_statement_timeout_s,
        settings.factelec_source_timezone,
    )


# FACTELEC_SOURCE_KIND -> adapter. Another engine is one more entry here and one more module.
ADAPTERS: dict[str, Callable[[Settings], SupplyPointSource]] = {"postgresql": _postgresql}


def open_source(settings: Settings) -> SupplyPointSource:
    """The configured adapter, not yet connected (call ``open()``)."""
    try:
        factory = ADAPTERS[settings.factelec_source_kind]
    except KeyError:
        raise ConfigurationError(
            f"unknown FACTELEC_SOURCE_KIND {settings.factelec_source_kind!r}; known: {sorted(ADAPTERS)}"
        ) from None
    return factory(settings)


__all__ = ["ADAPTERS", "SourceRow", "SupplyPointSource", "open_source"]
