"""What a broken rule looks like, whatever layer finds it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

# invalid: the request itself breaks a rule (422); conflict: the state of the object forbids it now (409);
# too_large: the payload is over a limit (413).
Kind = Literal["invalid", "conflict", "too_large"]


@dataclass(frozen=True)
class Violation:
    field: str
    rule: str
    message: str
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


class RuleBroken(Exception):
    """One or more violations of a rule of the domain."""

    def __init__(self, violations: list[Violation], *, kind: Kind = "invalid", detail: str | None = None):
        if not violations:
            raise ValueError("RuleBroken needs at least one violation")
        self.violations = violations
        self.kind = kind
        self.detail = detail or "; ".join(v.message for v in violations[:5])
        super().__init__(self.detail)

    @classmethod
    def one(cls, field: str, rule: str, message: str, *, kind: Kind = "invalid", **extra: Any) -> RuleBroken:
        return cls([Violation(field, rule, message, extra)], kind=kind)
