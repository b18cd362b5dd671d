"""Messages from templates: Spanish subject, plain text and HTML from the Jinja2 files in ``templates/``,
put together as one MIME message (multipart/alternative) at the moment it is recorded.

The MIME bytes are stored with the message, with a ``Message-ID`` made from the message's own id and a
``Date`` of its recording: a message sent again after a crash is byte-for-byte the same message, so the
duplicate is recognisable (and dropped by servers and clients that deduplicate on Message-ID).

Templates per kind: ``<kind>.subject.txt``, ``<kind>.txt``, ``<kind>.html``. Filters: ``fecha`` (``lunes 9
de noviembre de 2026``), ``fecha_corta`` (``09/11/2026``), ``pad(n)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime as rfc2822_datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifications.domain.dates import EL_SALVADOR, format_date, format_date_short, local_now
from notifications.domain.delivery import Status
from notifications.domain.model import EventView, Recipient, StaffMember, TicketView
from notifications.domain.planning import Kind, Planned
from notifications.domain.recipients import Role, address_problem
from notifications.mime import build_alternative, encode_header_text, format_address

TEMPLATES = Path(__file__).parent / "templates"
KINDS: tuple[Kind, ...] = (
    "assignment",
    "reminder",
    "escalation",
    "event_internal_overdue",
    "event_client_due",
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Outgoing:
    """A message ready to be recorded (and then sent by the sender loop)."""

    id: uuid.UUID
    dedupe_key: str
    kind: Kind
    recipient: Recipient
    role: Role
    subject: str
    message_id: str
    mime: bytes
    status: Status
    last_error: str | None
    created_at: datetime
    ticket_id: uuid.UUID | None = None
    ticket_code: str | None = None
    event_id: uuid.UUID | None = None
    source_event_id: uuid.UUID | None = None
    tier: int | None = None


def _pad(value: Any, width: int) -> str:
    return str(value).ljust(width)


class Composer:
    def __init__(
        self,
        *,
        mail_from: str,
        web_base_url: str,
        reply_to: str | None = None,
        templates: Path = TEMPLATES,
        tz: Any = EL_SALVADOR,
    ) -> None:
        self.mail_from = mail_from
        self.envelope_from = parseaddr(mail_from)[1] or mail_from
        self.domain = self.envelope_from.rpartition("@")[2] or "crm.local"
        self.web_base_url = web_base_url.rstrip("/")
        self.reply_to = reply_to
        self.tz = tz
        name, address = parseaddr(mail_from)
        self._from_header = format_address(name, address or mail_from)
        self.env = Environment(
            loader=FileSystemLoader(str(templates)),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["fecha"] = format_date
        self.env.filters["fecha_corta"] = format_date_short
        self.env.filters["pad"] = _pad
        # Load every template now: a broken template stops the start, not the first email.
        self._templates = {
            (kind, part): self.env.get_template(f"{kind}.{part}")
            for kind in KINDS
            for part in ("subject.txt", "txt", "html")
        }

    # -- rendering -------------------------------------------------------------------------------------

    def render(self, kind: Kind, context: dict[str, Any]) -> Rendered:
        subject = " ".join(self._templates[(kind, "subject.txt")].render(context).split())
        text = self._templates[(kind, "txt")].render(context)
        html = self._templates[(kind, "html")].render({**context, "subject": subject})
        return Rendered(subject=subject, text=text, html=html)

    def ticket_link(self, ticket_id: uuid.UUID) -> str:
        return f"{self.web_base_url}/tickets/{ticket_id}"

    def event_link(self, event_id: uuid.UUID) -> str:
        return f"{self.web_base_url}/events/{event_id}"

    @staticmethod
    def _subject_parts(kind: str, name: str, nic: str | None) -> tuple[str, str]:
        if kind == "supply_point":
            return "Suministro", f"NIC {nic} · {name}" if nic else name
        return "Cliente", name

    def ticket_context(self, ticket: TicketView) -> dict[str, Any]:
        label, text = self._subject_parts(ticket.subject_kind, ticket.subject_name, ticket.subject_nic)
        return {
            "ticket": ticket,
            "link": self.ticket_link(ticket.ticket_id),
            "subject_label": label,
            "subject_text": text,
        }

    def event_context(self, event: EventView) -> dict[str, Any]:
        label, text = self._subject_parts(event.subject_kind, event.subject_name, event.subject_nic)
        return {
            "event": event,
            "link": self.event_link(event.event_id),
            "subject_label": label,
            "subject_text": text,
        }

    # -- messages --------------------------------------------------------------------------------------

    def assignment(
        self,
        ticket: TicketView,
        recipients: Sequence[tuple[Recipient, Role]],
        source_event_id: uuid.UUID,
        created_at: datetime,
    ) -> list[Outgoing]:
        """One message per recipient (its own SMTP transaction and delivery state), each with the same
        To (the responsible person) and Cc (the people in copy) headers."""
        to = [r for r, role in recipients if role == "to"]
        cc = [r for r, role in recipients if role == "cc"]
        base = self.ticket_context(ticket)
        return [
            self.compose(
                key=f"assignment:{source_event_id}:{recipient.user_id}",
                kind="assignment",
                recipient=recipient,
                role=role,
                context={**base, "recipient": recipient, "role": role, "days": 0},
                to=to,
                cc=cc,
                created_at=created_at,
                ticket=ticket,
                source_event_id=source_event_id,
            )
            for recipient, role in recipients
        ]

    def planned(self, item: Planned, created_at: datetime) -> Outgoing:
        """A reminder, escalation or event alert chosen by the scheduler."""
        recipient = _recipient(item.recipient)
        context: dict[str, Any] = {"recipient": recipient, "role": "to", "days": item.days, "tier": item.tier}
        if item.ticket is not None:
            context.update(self.ticket_context(item.ticket))
        if item.event is not None:
            context.update(self.event_context(item.event))
        return self.compose(
            key=item.key,
            kind=item.kind,
            recipient=recipient,
            role="to",
            context=context,
            to=[recipient],
            cc=[],
            created_at=created_at,
            ticket=item.ticket,
            event=item.event,
            tier=item.tier.number if item.tier else None,
        )

    def compose(
        self,
        *,
        key: str,
        kind: Kind,
        recipient: Recipient,
        role: Role,
        context: dict[str, Any],
        to: Sequence[Recipient],
        cc: Sequence[Recipient],
        created_at: datetime,
        ticket: TicketView | None = None,
        event: EventView | None = None,
        source_event_id: uuid.UUID | None = None,
        tier: int | None = None,
    ) -> Outgoing:
        message_uuid = uuid.uuid4()
        message_id = f"<{message_uuid}@{self.domain}>"
        rendered = self.render(kind, context)
        problem = address_problem(recipient.email)
        mime = b"" if problem else self.mime(rendered, message_id, created_at, to, cc, kind, ticket)
        return Outgoing(
            id=message_uuid,
            dedupe_key=key,
            kind=kind,
            recipient=recipient,
            role=role,
            subject=rendered.subject,
            message_id=message_id,
            mime=mime,
            status="failed" if problem else "pending",
            last_error=problem,
            created_at=created_at,
            ticket_id=ticket.ticket_id if ticket else None,
            ticket_code=ticket.code if ticket else None,
            event_id=ticket.event_id if ticket else (event.event_id if event else None),
            source_event_id=source_event_id,
            tier=tier,
        )

    def mime(
        self,
        rendered: Rendered,
        message_id: str,
        created_at: datetime,
        to: Sequence[Recipient],
        cc: Sequence[Recipient],
        kind: str,
        ticket: TicketView | None,
    ) -> bytes:
        headers = [
            ("From", self._from_header),
            ("To", _addresses(to)),
        ]
        if cc_header := _addresses(cc):
            headers.append(("Cc", cc_header))
        if self.reply_to:
            headers.append(("Reply-To", self.reply_to))
        headers += [
            ("Subject", encode_header_text(rendered.subject)),
            ("Date", rfc2822_datetime(local_now(created_at, self.tz))),
            ("Message-ID", message_id),
            ("Auto-Submitted", "auto-generated"),
            ("X-Auto-Response-Suppress", "All"),
            ("X-CRM-Notification", kind),
        ]
        if ticket is not None:
            headers.append(("X-CRM-Ticket", encode_header_text(ticket.code)))
        boundary = f"=_crm_{message_id.strip('<>').partition('@')[0]}"
        return build_alternative(headers=headers, text=rendered.text, html=rendered.html, boundary=boundary)


def _recipient(person: StaffMember | Recipient) -> Recipient:
    return person if isinstance(person, Recipient) else Recipient(person.user_id, person.name, person.email)


def _addresses(people: Sequence[Recipient]) -> str:
    return ",\r\n ".join(
        format_address(person.name, person.email)
        for person in people
        if address_problem(person.email) is None
    )
