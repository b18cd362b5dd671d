"""What a broken rule looks like, whatever layer finds it. The API turns it into problem+json."""

from __future__ import annotations

from typing import Literal

# invalid: the request breaks a rule (422); conflict: the state of the object forbids it now (409);
# forbidden: the caller may not do it (403); not_found: it does not exist for this caller (404).
Kind = Literal["invalid", "conflict", "forbidden", "not_found"]


class RuleBroken(Exception):
    """A rule of the domain was broken: ``field`` (may be empty) and ``rule`` name it."""

    def __init__(self, kind: Kind, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field
        self.rule = rule
        self.message = message

    def __repr__(self) -> str:
        return f"RuleBroken({self.kind!r}, {self.field!r}, {self.rule!r}, {self.message!r})"
