"""Full reconciliation: compare every source row with what was last published.

- a supply point whose digest differs from the last one published (or that was never published, or was
  retired and is back) is published again: this catches what the incremental pass cannot see, e.g. a
  status changed by a FACTELEC batch job that did not touch the update timestamp, a holder renamed in the
  customers table, or a row whose transaction committed after the watermark had passed its timestamp;
- a supply point published before and absent from the whole scan is retired, unless that would retire a
  suspicious share of them at once (an empty source or a broken query must not wipe every replica).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from factelec_sync.domain.events import Prepared


@dataclass(frozen=True, slots=True)
class Known:
    """What was last published for a NIC."""

    digest: int
    retired: bool = False


def to_republish(prepared: Sequence[Prepared], known: Mapping[str, Known]) -> list[Prepared]:
    """Rows of a reconciliation page whose current state differs from the state last published."""
    out: list[Prepared] = []
    for p in prepared:
        k = known.get(p.nic)
        if k is None or k.retired or k.digest != p.digest:
            out.append(p)
    return out


def disappeared(known_active: Iterable[str], seen: Iterable[str]) -> list[str]:
    """NICs published and not retired that the scan did not see (the store computes the same with an
    anti-join in SQL; this is the rule in plain terms, for the tests and small sets)."""
    present = set(seen)
    return sorted(nic for nic in known_active if nic not in present)


class MassRetirement(Exception):
    """Reconciliation would retire too large a share of the supply points: stopped before retiring any."""


def check_retirements(to_retire: int, known_active: int, max_fraction: float, allow: bool = False) -> None:
    """Refuse to retire more than ``max_fraction`` of the active supply points in one reconciliation."""
    if allow or to_retire == 0:
        return
    if known_active == 0 or to_retire / known_active > max_fraction:
        raise MassRetirement(
            f"reconciliation would retire {to_retire} of {known_active} supply points "
            f"(more than {max_fraction:.0%}); check the source query and data, then run "
            "`python -m factelec_sync sync --full --allow-mass-retire` if it is right"
        )
