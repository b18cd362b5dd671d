"""Who may see what.

- Every staff member (any role) may see every suministro and what hangs under it.
- A client, and everything under it (attentions, events, tickets, attachments, audit), is visible to the
  users on its access list (its creator and those added with "+ Agregar usuario") and to admins.
- Whoever may see a client may manage its access list, its contacts and its attentions.
- Without access the answer is "not found": nothing tells that the client exists.
- The staff directory is managed by admins; everyone may read it (to pick people).

The list endpoints apply the same rule in SQL (store.visibility); the ACL matrix test checks both agree.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

ROLES = ("admin", "agent", "technical_manager")
STAFF_ROLES = ROLES  # any of them makes a caller staff
ADMIN = "admin"


@dataclass(frozen=True)
class Viewer:
    user_id: str
    is_admin: bool


def may_see_client(viewer: Viewer, on_access_list: bool) -> bool:
    return viewer.is_admin or on_access_list


def may_see_subject(viewer: Viewer, subject_kind: str, on_access_list: bool) -> bool:
    """An attention's subject: a suministro is visible to all staff, a client to its access list."""
    if subject_kind == "supply_point":
        return True
    return may_see_client(viewer, on_access_list)


def initial_access_list(creator: str, added: Collection[str]) -> list[str]:
    """The creator always starts on the access list, then the users added, once each, in order."""
    seen: dict[str, None] = {creator: None}
    for user in added:
        seen.setdefault(user, None)
    return list(seen)
