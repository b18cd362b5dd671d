"""Downloads of a report: CSV (streamed), XLSX (``reports.xlsx``, streamed) and PDF (reportlab, charts).

Headers and titles are Spanish (the users' language). The subject export carries every row of the
subject (a server-side cursor feeds it, so memory stays bounded whatever the size); the overview export
carries its tables. XLSX is written to a temporary file row by row and streamed from disk; PDF holds at
most ``PDF_ROW_LIMIT`` detail rows (a PDF is for reading, the XLSX for the complete detail).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from reports import xlsx
from reports.domain.period import TIMEZONE

PDF_ROW_LIMIT = 2000

KIND_ES = {"attention": "Atención", "event": "Evento", "ticket": "Ticket"}
STATUS_ES = {
    "open": "Abierto",
    "closed": "Cerrado",
    "assigned": "Asignado",
    "accepted": "Aceptado",
    "in_progress": "En proceso",
    "reopened": "Reabierto",
}
CHANNEL_ES = {
    "phone": "Teléfono",
    "email": "Correo",
    "letter": "Carta",
    "visit": "Visita",
    "web": "Web",
    "other": "Otro",
}
CLIENT_KIND_ES = {
    "prospect": "Prospecto",
    "stakeholder": "Stakeholder",
    "internal": "Departamento interno",
    "supply_point": "Suministro",
    "unknown": "Desconocido",
}

SUBJECT_COLUMNS = [
    "Tipo",
    "Código",
    "Estado",
    "Descripción",
    "Abierto",
    "Cerrado",
    "Fecha interna / vencimiento",
    "Fecha comprometida al cliente",
    "Responsable",
    "Área",
    "Canal",
    "Reaperturas",
]


def local(moment: datetime | None) -> str:
    """YYYY-MM-DD HH:MM in El Salvador (isoformat and a slice: a third of strftime's time, per cell)."""
    return moment.astimezone(TIMEZONE).isoformat(" ", "minutes")[:16] if moment else ""


def day(value: date | None) -> str:
    return value.isoformat() if value else ""


def subject_line(kind: str, row: Mapping[str, Any]) -> list[Any]:
    """One detail row of the subject export, in the column order of ``SUBJECT_COLUMNS``."""
    if kind == "attention":
        status = "closed" if row["closed_at"] else "open"
        return [
            KIND_ES[kind],
            row["code"],
            STATUS_ES[status],
            row["summary"],
            local(row["opened_at"]),
            local(row["closed_at"]),
            "",
            "",
            row["registered_by_name"] or row["registered_by"] or "",
            row["area"] or "",
            CHANNEL_ES.get(row["channel"], row["channel"] or ""),
            "",
        ]
    if kind == "event":
        status = "closed" if row["closed_at"] else "open"
        return [
            KIND_ES[kind],
            row["code"],
            STATUS_ES[status],
            row["title"],
            local(row["opened_at"]),
            local(row["closed_at"]),
            day(row["internal_commitment_date"]),
            day(row["client_commitment_date"]),
            row["created_by_name"] or row["created_by"] or "",
            row["area"] or "",
            "",
            "",
        ]
    return [
        KIND_ES[kind],
        row["code"],
        STATUS_ES.get(row["status"], row["status"]),
        row["responsibility"],
        local(row["opened_at"]),
        local(row["closed_at"]),
        day(row["due_date"]),
        "",
        row["responsible_name"] or "",
        row["area"] or "",
        "",
        len(row["reopens"]),
    ]


# -- CSV ----------------------------------------------------------------------------------------------------


def csv_line(values: Iterable[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue().encode()


async def csv_stream(header: list[str], lines: AsyncIterator[list[Any]]) -> AsyncIterator[bytes]:
    yield "\ufeff".encode() + csv_line(header)  # BOM: Excel opens UTF-8 accents right
    chunk: list[bytes] = []
    async for line in lines:
        chunk.append(csv_line(line))
        if len(chunk) >= 500:
            yield b"".join(chunk)
            chunk.clear()
    if chunk:
        yield b"".join(chunk)


# -- XLSX ---------------------------------------------------------------------------------------------------


def temporary_xlsx() -> tuple[xlsx.Workbook, str]:
    """A workbook written to a new temporary file (the caller streams it with ``file_chunks``)."""
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        return xlsx.Workbook(path), path
    except BaseException:
        os.unlink(path)
        raise


def file_chunks(path: str, size: int = 256 * 1024) -> Iterator[bytes]:
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(size):
                yield chunk
    finally:
        os.unlink(path)


def summary_lines(summary: dict[str, Any]) -> list[list[Any]]:
    """The summary block as (Tipo, Abiertos, Cerrados, Abiertos al cierre, Vencidos, Días promedio) rows."""
    lines = []
    for kind in ("attention", "event", "ticket"):
        f = summary[f"{kind}s"]
        lines.append(
            [
                KIND_ES[kind] + "s",
                f["opened"],
                f["closed"],
                f["open_at_end"],
                f["overdue"],
                f["avg_days_to_close"] if f["avg_days_to_close"] is not None else "",
            ]
        )
    return lines


SUMMARY_HEADER = ["Tipo", "Abiertos", "Cerrados", "Abiertos al final", "Vencidos", "Días promedio de cierre"]


def compliance_lines(events: dict[str, Any]) -> list[list[Any]]:
    def pct(v: float | None) -> str:
        return f"{v * 100:.1f} %" if v is not None else "—"

    return [
        ["Eventos cerrados en el periodo", events["closed"]],
        [
            "Cerrados a tiempo (fecha interna)",
            f"{events['internal_kept']} ({pct(events['internal_kept_rate'])})",
        ],
        [
            "Promesa cumplida (fecha al cliente)",
            f"{events['client_kept']} ({pct(events['client_kept_rate'])})",
        ],
    ]


# -- overview tables (shared by CSV, XLSX and PDF) ------------------------------------------------------


def overview_tables(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(title, header, rows) of every table of the overview, in Spanish."""

    def fig(f: dict[str, Any]) -> list[Any]:
        avg = f["avg_days_to_close"]
        return [f["opened"], f["closed"], f["open_at_end"], f["overdue"], "" if avg is None else avg]

    def pct(v: float | None) -> Any:
        return "" if v is None else round(v * 100, 1)

    head = ["Abiertos", "Cerrados", "Abiertos al final", "Vencidos", "Días promedio de cierre"]
    return [
        ("Resumen", ["Tipo", *head], summary_lines(report["summary"])),
        (
            "Por área",
            [
                "Área",
                *[f"Tickets: {h}" for h in head],
                "Eventos cerrados",
                "% fecha interna",
                "% fecha cliente",
            ],
            [
                [
                    a["area"] or "(sin área)",
                    *fig(a["tickets"]),
                    a["events"]["closed"],
                    pct(a["events"]["internal_kept_rate"]),
                    pct(a["events"]["client_kept_rate"]),
                ]
                for a in report["by_area"]
            ],
        ),
        (
            "Por responsable",
            ["Responsable", "Área", *head],
            [[r["name"] or r["user_id"], r["area"], *fig(r)] for r in report["by_responsible"]],
        ),
        (
            "Por canal",
            ["Canal", *head],
            [[CHANNEL_ES.get(r["channel"], r["channel"]), *fig(r)] for r in report["by_channel"]],
        ),
        (
            "Por tipo de cliente",
            [
                "Tipo de cliente",
                "Atenciones abiertas",
                "Atenciones cerradas",
                "Eventos abiertos",
                "Eventos cerrados",
                "Tickets abiertos",
                "Tickets cerrados",
            ],
            [
                [
                    CLIENT_KIND_ES.get(r["client_kind"], r["client_kind"]),
                    r["attentions_opened"],
                    r["attentions_closed"],
                    r["events_opened"],
                    r["events_closed"],
                    r["tickets_opened"],
                    r["tickets_closed"],
                ]
                for r in report["by_client_kind"]
            ],
        ),
    ]


# -- PDF ----------------------------------------------------------------------------------------------------


def weekly_chart(weeks: list[dict[str, Any]], width: float = 24 * cm, height: float = 7 * cm) -> Drawing:
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 40, width - 160, height - 60
    chart.data = [[w["opened"] for w in weeks] or [0], [w["closed"] for w in weeks] or [0]]
    chart.categoryAxis.categoryNames = [w["week_start"][5:] for w in weeks] or [""]
    chart.categoryAxis.labels.angle = 45 if len(weeks) > 8 else 0
    chart.categoryAxis.labels.fontSize = 6 if len(weeks) > 20 else 8
    chart.categoryAxis.labels.boxAnchor = "ne" if len(weeks) > 8 else "n"
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = colors.HexColor("#1f77b4")
    chart.bars[1].fillColor = colors.HexColor("#2ca02c")
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = width - 110, height - 20
    legend.colorNamePairs = [
        (colors.HexColor("#1f77b4"), "Abiertos"),
        (colors.HexColor("#2ca02c"), "Cerrados"),
    ]
    drawing.add(legend)
    drawing.add(String(40, height - 12, "Abiertos vs. cerrados por semana", fontSize=10))
    return drawing


def compliance_chart(areas: list[dict[str, Any]], width: float = 24 * cm) -> Drawing:
    height = max(4 * cm, 1.2 * cm * len(areas) + 2 * cm)
    drawing = Drawing(width, height)
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 150, 30, width - 280, height - 50
    chart.data = [
        [round((a["internal_kept_rate"] or 0) * 100, 1) for a in areas] or [0],
        [round((a["client_kept_rate"] or 0) * 100, 1) for a in areas] or [0],
    ]
    chart.categoryAxis.categoryNames = [a["area"] or "(sin área)" for a in areas] or [""]
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, 100
    chart.bars[0].fillColor = colors.HexColor("#ff7f0e")
    chart.bars[1].fillColor = colors.HexColor("#9467bd")
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = width - 120, height - 20
    legend.colorNamePairs = [
        (colors.HexColor("#ff7f0e"), "% fecha interna"),
        (colors.HexColor("#9467bd"), "% fecha cliente"),
    ]
    drawing.add(legend)
    drawing.add(String(10, height - 12, "Cumplimiento de compromisos por área (%)", fontSize=10))
    return drawing


TABLE_STYLE = TableStyle(
    [
        ("FONTSIZE", (0, 0), (-1, -1), 7),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4ee")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def pdf_document(
    title: str,
    subtitle: str,
    charts: list[Drawing],
    tables: list[tuple[str, list[str], list[list[Any]]]],
    note: str | None = None,
) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        title=title,
        leftMargin=1.2 * cm,
        rightMargin=1.2 * cm,
        topMargin=1.2 * cm,
        bottomMargin=1.2 * cm,
    )
    styles = getSampleStyleSheet()
    story: list[Any] = [
        Paragraph(title, styles["Title"]),
        Paragraph(subtitle, styles["Normal"]),
        Spacer(1, 8),
    ]
    for chart in charts:
        story += [chart, Spacer(1, 8)]
    for name, header, rows in tables:
        story.append(Paragraph(name, styles["Heading3"]))
        table = Table([header, *[[str(v) for v in r] for r in rows]], repeatRows=1)
        table.setStyle(TABLE_STYLE)
        story += [table, Spacer(1, 8)]
    if note:
        story.append(Paragraph(note, styles["Italic"]))
    doc.build(story)
    return buffer.getvalue()
