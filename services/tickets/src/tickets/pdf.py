"""The printable technical work order for the field crew (labels in Spanish, as the crews read them)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

WORK_TYPES_ES = {
    "inspection": "Inspección",
    "meter_change": "Cambio de medidor",
    "reconnection": "Reconexión",
    "line_work": "Trabajo en línea",
    "other": "Otro",
}
STATUS_ES = {
    "draft": "Borrador",
    "submitted": "Enviada",
    "approved": "Aprobada",
    "rejected": "Rechazada",
    "in_execution": "En ejecución",
    "completed": "Completada",
    "cancelled": "Cancelada",
}


def _day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def _moment(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%d/%m/%Y %H:%M") if value else "—"


def _text(value: Any, blank: str = "—") -> str:
    text = "" if value is None else str(value)
    return escape(text).replace("\n", "<br/>") or blank


def render_work_order(
    order: Mapping[str, Any], *, company: str = "EDESAL", timezone: str = "America/El_Salvador"
) -> bytes:
    """A one- or two-page PDF of an approved order. ``order`` is a work-order row joined with its ticket."""
    tz = ZoneInfo(timezone)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=12 * mm,
        bottomMargin=16 * mm,
        title=f"Orden de trabajo técnica {order['code']}",
        author=company,
        subject=f"Ticket {order['ticket_code']}",
    )
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontSize=9.5, leading=12, spaceAfter=0)
    label = ParagraphStyle("label", parent=body, fontName="Helvetica-Bold")
    heading = ParagraphStyle("heading", parent=styles["Heading2"], fontSize=11, spaceBefore=6, spaceAfter=3)
    company_style = ParagraphStyle(
        "company", parent=styles["Title"], fontSize=14, spaceBefore=0, spaceAfter=2
    )
    title_style = ParagraphStyle("title", parent=styles["Heading1"], fontSize=15, spaceBefore=0, spaceAfter=6)

    def row(name: str, value: Any) -> list[Paragraph]:
        return [Paragraph(escape(name), label), Paragraph(_text(value, "—" if value is None else ""), body)]

    def grid(rows: list[list[Paragraph]], heights: list[float] | None = None) -> Table:
        table = Table(rows, colWidths=[48 * mm, 132 * mm], rowHeights=heights)
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                    ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#EEF2F7")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        return table

    responsible = f"{order['ticket_responsible_name']} ({order['ticket_responsible_area']})"
    story: list[Any] = [
        Paragraph(escape(company), company_style),
        Paragraph("ORDEN DE TRABAJO TÉCNICA", title_style),
        grid(
            [
                row("Código", order["code"]),
                row("Estado", STATUS_ES.get(order["status"], order["status"])),
                row("Tipo de trabajo", WORK_TYPES_ES.get(order["work_type"], order["work_type"])),
                row("Fecha solicitada", _day(order["requested_date"])),
                row("Área", order["area"]),
            ]
        ),
        Paragraph("Ubicación", heading),
        grid(
            [
                row("Suministro (NIC)", order["nic"]),
                row("Dirección", order["address"]),
                row("Cliente / titular", order["ticket_subject_name"]),
            ]
        ),
        Paragraph("Origen", heading),
        grid(
            [
                row("Ticket", f"{order['ticket_code']} — {order['ticket_responsibility']}"),
                row("Evento", order["ticket_event_code"]),
                row("Atención", order["ticket_attention_code"]),
                row("Responsable", responsible),
                row("Solicitada por", order["created_by_name"]),
            ]
        ),
        Paragraph("Descripción del trabajo", heading),
        Paragraph(_text(order["description"]), body),
        Paragraph("Notas para la cuadrilla", heading),
        Paragraph(_text(order["crew_notes"]), body),
        Paragraph("Aprobación", heading),
        grid(
            [
                row("Aprobada por", order["decided_by_name"]),
                row("Fecha de aprobación", _moment(order["decided_at"], tz)),
                row("Comentario", order["decision_comment"]),
            ]
        ),
        Paragraph("Ejecución en campo (a completar por la cuadrilla)", heading),
        grid(
            [
                row("Fecha y hora de inicio", ""),
                row("Fecha y hora de fin", ""),
                row("Materiales utilizados", ""),
                row("Observaciones", ""),
            ],
            heights=[7 * mm, 7 * mm, 12 * mm, 16 * mm],
        ),
        Spacer(1, 10 * mm),
        Table(
            [
                ["_____________________________", "_____________________________"],
                ["Jefe de cuadrilla", "Gerente Técnico"],
            ],
            colWidths=[90 * mm, 90 * mm],
            style=TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER"), ("FONTSIZE", (0, 0), (-1, -1), 9)]),
        ),
    ]
    printed = datetime.now(tz).strftime("%d/%m/%Y %H:%M")

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(18 * mm, 10 * mm, f"{company} — {order['code']} — impresa el {printed}")
        canvas.drawRightString(LETTER[0] - 18 * mm, 10 * mm, f"Página {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
