"""The Spanish words the pages show for the APIs' codes (see docs/glossary.md)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

STATUS = {
    "open": "Abierta",
    "closed": "Cerrada",
}
EVENT_STATUS = {"open": "Abierto", "closed": "Cerrado"}
TICKET_STATUS = {
    "open": "Abierto",  # the attentions service's own view: open until the tickets service says closed
    "assigned": "Asignado",
    "accepted": "Aceptado",
    "in_progress": "En proceso",
    "closed": "Cerrado",
    "reopened": "Reabierto",
    "requested": "Solicitado",
}
ORDER_STATUS = {
    "draft": "Borrador",
    "submitted": "Enviada",
    "approved": "Aprobada",
    "rejected": "Rechazada",
    "in_execution": "En ejecución",
    "completed": "Completada",
    "cancelled": "Cancelada",
}
WORK_TYPE = {
    "inspection": "Inspección",
    "meter_change": "Cambio de medidor",
    "reconnection": "Reconexión",
    "line_work": "Trabajo en línea",
    "other": "Otro",
}
CHANNEL = {
    "phone": "Teléfono",
    "email": "Correo electrónico",
    "letter": "Carta",
    "visit": "Visita",
    "web": "Web",
    "other": "Otro",
}
CONNECTION = {"connected": "Conectado", "disconnected": "Desconectado", "suspended": "Suspendido"}
KIND = {"prospect": "Prospecto", "stakeholder": "Stakeholder"}
ROLES = {
    "admin": "Administración",
    "technical_manager": "Gerencia técnica",
    "agent": "Personal",
}
# What a work-order action is called on its button, and whether it needs a comment or a report.
ORDER_ACTIONS = {
    "submit": ("Enviar para aprobación", None),
    "approve": ("Aprobar", "comment"),
    "reject": ("Rechazar", "comment"),
    "start": ("Iniciar ejecución", None),
    "complete": ("Completar", "completion_report"),
    "cancel": ("Cancelar orden", "comment"),
}
ORDER_NEXT = {
    "draft": ("submit", "cancel"),
    "submitted": ("approve", "reject", "cancel"),
    "approved": ("start", "cancel"),
    "in_execution": ("complete", "cancel"),
}


def parse_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def fmt_date(value: object) -> str:
    d = parse_date(value)
    return d.strftime("%d/%m/%Y") if d else "—"


def fmt_datetime(value: object, tz: str) -> str:
    if not isinstance(value, str) or not value:
        return "—"
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if instant.tzinfo is not None:
        instant = instant.astimezone(ZoneInfo(tz))
    return instant.strftime("%d/%m/%Y %H:%M")


def urgency(due: object, is_open: bool, today: date, soon_days: int) -> str:
    """ "overdue", "soon" or "": how a due date stands out in a list."""
    d = parse_date(due)
    if not is_open or d is None:
        return ""
    if d < today:
        return "overdue"
    if (d - today).days <= soon_days:
        return "soon"
    return ""
