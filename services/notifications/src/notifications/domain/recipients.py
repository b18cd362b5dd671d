"""Who gets the assignment email, and which addresses can be used at all."""

from __future__ import annotations

from collections.abc import Sequence
from email.errors import HeaderParseError
from email.headerregistry import Address
from functools import lru_cache
from typing import Literal

from notifications.domain.model import Recipient

Role = Literal["to", "cc"]


def assignment_recipients(responsible: Recipient, cc: Sequence[Recipient]) -> list[tuple[Recipient, Role]]:
    """The responsible person (To) and each CC person once (Cc).

    A CC person who is the responsible person, or listed twice (same user or same address), gets one copy.
    """
    out: list[tuple[Recipient, Role]] = [(responsible, "to")]
    seen_users = {responsible.user_id}
    seen_addresses = {responsible.email.strip().lower()}
    for person in cc:
        address = person.email.strip().lower()
        if person.user_id in seen_users or address in seen_addresses:
            continue
        seen_users.add(person.user_id)
        seen_addresses.add(address)
        out.append((person, "cc"))
    return out


@lru_cache(maxsize=8192)
def address_problem(address: str) -> str | None:
    """Why an address cannot be sent to (recorded as a permanent failure), or None when it can."""
    if not address or address != address.strip() or any(c.isspace() for c in address):
        return f"invalid address {address!r}: empty or contains spaces"
    if not address.isascii():
        return f"invalid address {address!r}: non-ASCII addresses (SMTPUTF8) are not supported"
    if address.count("@") != 1:
        return f"invalid address {address!r}: needs exactly one @"
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, HeaderParseError) as exc:
        return f"invalid address {address!r}: {exc}"
    if not parsed.username or not parsed.domain or parsed.addr_spec != address:
        return f"invalid address {address!r}"
    return None
