"""The services' problem+json answers, in words a clerk understands (Spanish).

A problem names the broken rules (``errors[].rule``) and the fields; each known rule has a sentence here,
and an unknown one falls back to the field's name and the HTTP status, never to the English message alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RULES: dict[str, str] = {
    "due_not_after_internal_commitment": (
        "La fecha límite del ticket no puede ser posterior a la fecha de compromiso interno del evento."
    ),
    "internal_before_client_commitment": (
        "La fecha de compromiso interno debe ser anterior a la fecha comprometida con el cliente."
    ),
    "events_still_open": "La atención no se puede cerrar: todavía tiene eventos abiertos.",
    "tickets_still_open": "El evento no se puede cerrar: todavía tiene tickets abiertos.",
    "attention_closed": "La atención ya está cerrada.",
    "event_closed": "El evento ya está cerrado.",
    "active_staff_member": "El usuario indicado no es un miembro activo del personal.",
    "too_large": "El archivo es demasiado grande.",
    "max_size": "El archivo es demasiado grande.",
    "not_empty": "El archivo está vacío.",
    "pdf_content": "El archivo no es un PDF válido.",
    "internal_is_stakeholder": "Solo un stakeholder puede ser interno.",
    "client_contacts_only": "Un suministro no tiene contactos registrados; escriba los nombres.",
    "contact_of_client": "El contacto no pertenece a este cliente.",
    "supply_point_retired": "El suministro fue dado de baja en FACTELEC.",
    "ticket_not_technical": "Las órdenes técnicas solo se crean sobre tickets del área técnica.",
    "ticket_closed": "El ticket está cerrado.",
    "location_required": "Indique el NIC del suministro o una dirección.",
    "comment_required": "Escriba un comentario.",
    "completion_report_required": "Escriba el informe de ejecución.",
    "role_required": "Su rol no permite esta acción.",
    "invalid_transition": "La orden no está en un estado que permita esta acción.",
    "missing": "Este campo es obligatorio.",
    "string_too_short": "Este campo es obligatorio.",
    "string_too_long": "El texto es demasiado largo.",
    "date_from_datetime_parsing": "La fecha no es válida.",
    "date_parsing": "La fecha no es válida.",
    "datetime_from_date_parsing": "La fecha y hora no son válidas.",
    "string_pattern_mismatch": "El formato no es válido.",
    "literal_error": "Elija una de las opciones.",
    "uuid_parsing": "El identificador no es válido.",
}

FIELDS: dict[str, str] = {
    "name": "Nombre",
    "kind": "Tipo",
    "email": "Correo",
    "tax_id": "NIT",
    "subject": "Asunto",
    "channel": "Canal",
    "happened_at": "Fecha y hora",
    "title": "Título",
    "client_commitment_date": "Fecha comprometida con el cliente",
    "internal_commitment_date": "Fecha de compromiso interno",
    "due_date": "Fecha límite",
    "responsible_id": "Responsable",
    "cc_ids": "Con copia",
    "responsibility": "Responsabilidad",
    "user_id": "Usuario",
    "note": "Nota de cierre",
    "file": "Archivo",
    "description": "Descripción",
    "comment": "Comentario",
    "completion_report": "Informe de ejecución",
    "requested_date": "Fecha solicitada",
    "work_type": "Tipo de trabajo",
}

STATUS: dict[int, str] = {
    400: "La solicitud no es válida.",
    401: "Su sesión expiró. Ingrese de nuevo.",
    403: "No tiene permiso para realizar esta acción.",
    404: "No encontrado: no existe o usted no tiene acceso.",
    409: "La acción no es posible en el estado actual.",
    413: "El archivo es demasiado grande.",
    422: "Revise los datos ingresados.",
    429: "Demasiadas solicitudes; intente de nuevo en un momento.",
    502: "El servicio no está disponible en este momento; intente de nuevo.",
    503: "El servicio no está disponible en este momento; intente de nuevo.",
    504: "El servicio tardó demasiado en responder; intente de nuevo.",
}


@dataclass
class UserError:
    """What the page shows: one sentence, and one per field that was wrong."""

    status: int
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    request_id: str | None = None

    @property
    def lines(self) -> list[str]:
        return [f"{FIELDS.get(name, name)}: {text}" for name, text in self.fields.items()]


def base_field(name: str) -> str:
    """``cc_ids[1]`` and ``body.due_date`` are the form's ``cc_ids`` and ``due_date``."""
    return name.split(".")[-1].split("[")[0]


def explain(status: int, problem: dict[str, Any] | None, request_id: str | None = None) -> UserError:
    """A problem+json body (or none, e.g. a gateway's HTML error) as a Spanish message."""
    problem = problem or {}
    fields: dict[str, str] = {}
    sentences: list[str] = []
    for err in problem.get("errors") or []:
        if not isinstance(err, dict):
            continue
        rule = str(err.get("rule") or "")
        sentence = RULES.get(rule)
        name = base_field(str(err.get("field") or ""))
        if sentence is None:
            sentence = "El valor no es válido."
        if name and name in FIELDS:
            fields.setdefault(name, sentence)
        if sentence not in sentences:
            sentences.append(sentence)
    if status in (404, 401, 403, 413) or not sentences:
        message = STATUS.get(status, "No se pudo completar la acción. Intente de nuevo.")
    else:
        message = " ".join(sentences)
    return UserError(status=status, message=message, fields=fields, request_id=request_id)
