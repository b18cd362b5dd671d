"""Reminder, escalation and event-alert rules: the defaults, the file format and rule matching.

A rules file (YAML or JSON, ``NOTIFICATION_RULES_FILE``) has four optional keys; what is missing keeps its
default. See docs/notifications.md for the format with an example.

- ``reminders``: remind the responsible person N days before the due date (``days_before``), for tickets
  matching ``match`` (every ticket when absent). Every matching reminder is sent, once each.
- ``ladders``: escalation ladders. The first ladder whose ``match`` fits the ticket is used; a ladder
  without ``match`` fits every ticket. When none fits, the built-in ladder is used (seed 001: coordinator
  after 7 days overdue, manager after 14, superintendent after 21). ``tiers: []`` disables escalation.
- ``event_alerts``: alert the event's creator when the internal commitment date has passed with tickets
  still open (``internal_date_passed``), and N days before the client commitment date while tickets are
  still open (``client_days_before``).
- ``send_from``: local time of day ("07:00") before which no reminder or escalation goes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class Match:
    """Which tickets a rule applies to. Empty lists match everything; values compare case-insensitively."""

    areas: tuple[str, ...] = ()
    ticket_types: tuple[str, ...] = ()

    def fits(self, area: str | None, ticket_type: str | None) -> bool:
        if self.areas and _norm(area or "") not in {_norm(a) for a in self.areas}:
            return False
        return not (
            self.ticket_types and _norm(ticket_type or "") not in {_norm(t) for t in self.ticket_types}
        )

    @property
    def is_catch_all(self) -> bool:
        return not self.areas and not self.ticket_types


@dataclass(frozen=True)
class Reminder:
    name: str
    days_before: int
    match: Match = field(default_factory=Match)


@dataclass(frozen=True)
class Tier:
    """Escalation tier ``number`` (1-based): ``after_days`` days overdue, to the ``levels_up``-th manager."""

    number: int
    after_days: int
    levels_up: int
    label: str


@dataclass(frozen=True)
class Ladder:
    name: str
    tiers: tuple[Tier, ...]
    match: Match = field(default_factory=Match)


@dataclass(frozen=True)
class EventAlerts:
    internal_date_passed: bool = True
    client_days_before: tuple[int, ...] = (3,)


DEFAULT_LADDER = Ladder(
    name="general",
    tiers=(
        Tier(1, after_days=7, levels_up=1, label="Coordinación"),
        Tier(2, after_days=14, levels_up=2, label="Gerencia"),
        Tier(3, after_days=21, levels_up=3, label="Superintendencia"),
    ),
)


@dataclass(frozen=True)
class Rules:
    reminders: tuple[Reminder, ...] = (Reminder("2d", days_before=2),)
    ladders: tuple[Ladder, ...] = (DEFAULT_LADDER,)
    event_alerts: EventAlerts = field(default_factory=EventAlerts)
    send_from: time = time(7, 0)

    def ladder_for(self, area: str | None, ticket_type: str | None) -> Ladder:
        for ladder in self.ladders:
            if ladder.match.fits(area, ticket_type):
                return ladder
        return DEFAULT_LADDER

    def reminders_for(self, area: str | None, ticket_type: str | None) -> list[Reminder]:
        return [r for r in self.reminders if r.match.fits(area, ticket_type)]


DEFAULT_RULES = Rules()


# -- the file format -----------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _MatchIn(_Strict):
    areas: list[str] = Field(default_factory=list)
    ticket_types: list[str] = Field(default_factory=list)


class _ReminderIn(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=60, pattern=r"^[\w.-]+$")
    days_before: int = Field(ge=0, le=365)
    match: _MatchIn = Field(default_factory=_MatchIn)


class _TierIn(_Strict):
    after_days: int = Field(ge=1, le=3650)
    levels_up: int | None = Field(default=None, ge=1, le=20)
    label: str | None = None


class _LadderIn(_Strict):
    name: str = Field(min_length=1, max_length=60, pattern=r"^[\w.-]+$")
    match: _MatchIn = Field(default_factory=_MatchIn)
    tiers: list[_TierIn]

    @model_validator(mode="after")
    def _increasing(self) -> _LadderIn:
        days = [t.after_days for t in self.tiers]
        if days != sorted(set(days)):
            raise ValueError(f"ladder {self.name}: after_days must strictly increase, got {days}")
        return self


class _EventAlertsIn(_Strict):
    internal_date_passed: bool = True
    client_days_before: list[int] = Field(default_factory=lambda: [3])

    @model_validator(mode="after")
    def _non_negative(self) -> _EventAlertsIn:
        if any(d < 0 for d in self.client_days_before):
            raise ValueError("client_days_before must not be negative")
        return self


class _RulesIn(_Strict):
    reminders: list[_ReminderIn] | None = None
    ladders: list[_LadderIn] | None = None
    event_alerts: _EventAlertsIn | None = None
    send_from: time | None = None

    @field_validator("send_from", mode="before")
    @classmethod
    def _yaml_sexagesimal(cls, value: Any) -> Any:
        # YAML 1.1 (PyYAML) reads an unquoted 07:00 as the base-60 integer 420: minutes since midnight.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            return time(value // 60, value % 60)
        return value


class InvalidRules(ValueError):
    """The rules file does not follow the format; the message names the place and the problem."""


def parse_rules(data: Mapping[str, Any] | None) -> Rules:
    """Rules from a parsed YAML/JSON document; what is missing keeps its default."""
    try:
        raw = _RulesIn.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidRules(f"invalid notification rules: {problems}") from None
    rules = DEFAULT_RULES
    reminders = rules.reminders
    if raw.reminders is not None:
        reminders = tuple(
            Reminder(r.name or f"{r.days_before}d", r.days_before, _match(r.match)) for r in raw.reminders
        )
        _unique("reminder", [r.name for r in reminders])
    ladders = rules.ladders
    if raw.ladders is not None:
        ladders = tuple(
            Ladder(
                ladder.name,
                tuple(
                    Tier(
                        number=i,
                        after_days=t.after_days,
                        levels_up=t.levels_up or i,
                        label=t.label or f"Nivel {i}",
                    )
                    for i, t in enumerate(ladder.tiers, start=1)
                ),
                _match(ladder.match),
            )
            for ladder in raw.ladders
        )
        _unique("ladder", [ladder.name for ladder in ladders])
    alerts = rules.event_alerts
    if raw.event_alerts is not None:
        alerts = EventAlerts(
            raw.event_alerts.internal_date_passed, tuple(sorted(set(raw.event_alerts.client_days_before)))
        )
    return Rules(
        reminders=reminders,
        ladders=ladders,
        event_alerts=alerts,
        send_from=raw.send_from if raw.send_from is not None else rules.send_from,
    )


def _match(raw: _MatchIn) -> Match:
    return Match(tuple(raw.areas), tuple(raw.ticket_types))


def _unique(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidRules(f"invalid notification rules: two {what}s are named {name!r}")
        seen.add(name)


def describe(rules: Rules) -> dict[str, Any]:
    """The rules in force, as the file format (for the API and the logs)."""
    return {
        "send_from": rules.send_from.strftime("%H:%M"),
        "reminders": [
            {"name": r.name, "days_before": r.days_before, "match": _describe_match(r.match)}
            for r in rules.reminders
        ],
        "ladders": [
            {
                "name": ladder.name,
                "match": _describe_match(ladder.match),
                "tiers": [
                    {"tier": t.number, "after_days": t.after_days, "levels_up": t.levels_up, "label": t.label}
                    for t in ladder.tiers
                ],
            }
            for ladder in rules.ladders
        ],
        "event_alerts": {
            "internal_date_passed": rules.event_alerts.internal_date_passed,
            "client_days_before": list(rules.event_alerts.client_days_before),
        },
    }


def _describe_match(match: Match) -> dict[str, list[str]]:
    return {"areas": list(match.areas), "ticket_types": list(match.ticket_types)}
