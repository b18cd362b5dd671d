"""The REPORTES menu: one subject's report, the overview across subjects, and their downloads."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated, Any, Literal

from crmkit.auth import Principal, require_roles
from crmkit.problems import not_found, unprocessable
from crmkit.runtime import ServiceRuntime
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from reports import exports, xlsx
from reports.api.schemas import OverviewReport, SubjectReport
from reports.domain.figures import KINDS, Item, Tally
from reports.domain.period import TIMEZONE, Period, PeriodError
from reports.report import SubjectRef, find_subject, item_of, overview_report, subject_report
from reports.store import queries
from reports.store.queries import Viewer

router = APIRouter(prefix="/reports", tags=["reports"])
STAFF_ROLES = ("admin", "agent", "technical_manager")
Format = Literal["csv", "xlsx", "pdf"]
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}

Staff = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]
From = Annotated[
    date, Query(alias="from", description="First day, inclusive (YYYY-MM-DD, America/El_Salvador).")
]
To = Annotated[date, Query(alias="to", description="Last day, inclusive (YYYY-MM-DD, America/El_Salvador).")]
ClientId = Annotated[uuid.UUID | None, Query(description="The client (prospect or stakeholder).")]
Nic = Annotated[
    str | None, Query(min_length=1, max_length=40, description="The supply point (suministro) NIC.")
]
FormatQuery = Annotated[Format, Query(description="csv, xlsx or pdf.")]


def runtime_of(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def today() -> date:
    return datetime.now(TIMEZONE).date()


def period_of(start: date, end: date) -> Period:
    try:
        return Period.of(start, end)
    except PeriodError as exc:
        raise unprocessable(exc.field, exc.rule, exc.message) from None


def subject_ref(client_id: uuid.UUID | None, nic: str | None) -> SubjectRef:
    if (client_id is None) == (nic is None):
        raise unprocessable("client_id", "one_subject", "give exactly one of `client_id` and `nic`")
    return SubjectRef("client_id", client_id) if client_id is not None else SubjectRef("nic", nic)


async def viewer_of(runtime: ServiceRuntime, user: Principal) -> Viewer:
    if user.is_admin:
        return Viewer(user.user_id, True)
    async with runtime.pool.acquire() as conn:
        return Viewer(user.user_id, False, await queries.visible_clients(conn, user.user_id))


async def visible_subject(runtime: ServiceRuntime, user: Principal, ref: SubjectRef) -> dict[str, Any]:
    viewer = await viewer_of(runtime, user)
    async with runtime.pool.acquire() as conn:
        found = await find_subject(conn, ref, viewer)
    if found is None:
        raise not_found("subject")  # unknown, or a client the caller may not see: the same answer
    return found


@router.get(
    "/subject",
    response_model=SubjectReport,
    summary="Report of one client or suministro over a period",
    responses={404: {"description": "Unknown subject, or a client the caller may not see"}},
)
async def get_subject_report(
    request: Request, user: Staff, start: From, end: To, client_id: ClientId = None, nic: Nic = None
) -> dict[str, Any]:
    period, ref = period_of(start, end), subject_ref(client_id, nic)
    runtime = runtime_of(request)
    subject = await visible_subject(runtime, user, ref)
    async with runtime.pool.acquire() as conn:
        return await subject_report(conn, subject, ref, period, today())


@router.get(
    "/overview",
    response_model=OverviewReport,
    summary="Report across subjects: by area, responsible person, channel and client kind",
)
async def get_overview(request: Request, user: Staff, start: From, end: To) -> dict[str, Any]:
    period = period_of(start, end)
    runtime = runtime_of(request)
    viewer = await viewer_of(runtime, user)
    return await overview_report(runtime.pool, period, today(), viewer)


def attachment(name: str, fmt: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}


def subject_file_name(subject: dict[str, Any], period: Period) -> str:
    key = subject["code"] or subject["nic"] or subject["client_id"]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(key))
    return f"reporte-{safe}-{period.start}-{period.end}"


@router.get(
    "/subject/export",
    summary="Download the report of one client or suministro (csv, xlsx or pdf)",
    response_class=Response,
    responses={
        200: {"content": {m: {} for m in MEDIA.values()}},
        404: {"description": "Unknown or not visible"},
    },
)
async def export_subject_report(
    request: Request,
    user: Staff,
    start: From,
    end: To,
    format: FormatQuery,
    client_id: ClientId = None,
    nic: Nic = None,
) -> Response:
    period, ref = period_of(start, end), subject_ref(client_id, nic)
    runtime = runtime_of(request)
    subject = await visible_subject(runtime, user, ref)
    headers = attachment(subject_file_name(subject, period), format)
    if format == "pdf":
        async with runtime.pool.acquire() as conn:
            report = await subject_report(conn, subject, ref, period, today())
        body = await asyncio.to_thread(subject_pdf, subject, report)  # CPU work off the event loop
        return Response(body, media_type=MEDIA["pdf"], headers=headers)
    if format == "csv":
        lines = subject_lines(runtime, ref, period)
        return StreamingResponse(
            exports.csv_stream(exports.SUBJECT_COLUMNS, lines), media_type=MEDIA["csv"], headers=headers
        )
    path = await subject_xlsx(runtime, subject, ref, period)
    return StreamingResponse(exports.file_chunks(path), media_type=MEDIA["xlsx"], headers=headers)


async def subject_lines(
    runtime: ServiceRuntime, ref: SubjectRef, period: Period, items: list[Item] | None = None
) -> AsyncIterator[list[Any]]:
    """Every detail row of the subject through server-side cursors; collects small ``Item``s if asked."""
    async with runtime.pool.acquire() as conn, conn.transaction(readonly=True):
        for kind in KINDS:
            async for row in queries.stream_subject_rows(
                conn, kind, ref.column, ref.key, period.since, period.until
            ):
                if items is not None:
                    items.append(item_of(kind, row))
                yield exports.subject_line(kind, row)


def subject_title(subject: dict[str, Any]) -> str:
    if subject["kind"] == "supply_point":
        return f"Reporte del suministro {subject['nic']} — {subject['name']}"
    return f"Reporte del cliente {subject['code']} — {subject['name']}"


def period_text(period: Period) -> str:
    return f"Periodo: {period.start:%d/%m/%Y} al {period.end:%d/%m/%Y} (hora de El Salvador)"


XLSX_BATCH_ROWS = 2000


async def subject_xlsx(
    runtime: ServiceRuntime, subject: dict[str, Any], ref: SubjectRef, period: Period
) -> str:
    """Sheets ``Resumen`` (figures) and ``Detalle`` (every row) in a temporary file. Rows are read on the
    event loop in batches through a server-side cursor and written by a worker thread, the next batch read
    while the last one is written: other requests are served meanwhile, and at most two batches are in
    memory (the summary is tallied row by row)."""
    loop = asyncio.get_running_loop()
    book, path = exports.temporary_xlsx()
    tally = Tally(period, today())
    detail: xlsx.Sheet | None = None

    def write(kind: str, rows: list[Any]) -> None:
        assert detail is not None
        for row in rows:
            tally.add(item_of(kind, row))
            detail.add(exports.subject_line(kind, row))

    def write_summary() -> None:
        figures = tally.summary()
        sheet = book.sheet("Resumen", [subject_title(subject)], width=30, position=0)
        for line in [[period_text(period)], [], exports.SUMMARY_HEADER, *exports.summary_lines(figures), []]:
            sheet.add(line)
        for line in exports.compliance_lines(figures["events"]):
            sheet.add(line)
        book.close()

    writing: asyncio.Future[None] | None = None
    try:
        detail = book.sheet("Detalle", exports.SUBJECT_COLUMNS, position=1)
        async with runtime.pool.acquire() as conn, conn.transaction(readonly=True):
            for kind in KINDS:
                async for rows in queries.subject_row_batches(
                    conn, kind, ref.column, ref.key, period.since, period.until, XLSX_BATCH_ROWS
                ):
                    if writing is not None:
                        await asyncio.shield(writing)
                    writing = loop.run_in_executor(None, write, kind, rows)
        if writing is not None:
            await asyncio.shield(writing)
        writing = loop.run_in_executor(None, write_summary)
        await asyncio.shield(writing)
        return path
    except BaseException:
        if writing is not None and not writing.done():
            await asyncio.wait([writing])  # a thread cannot be stopped: let it finish before cleaning up
        book.abort()
        os.unlink(path)
        raise


def subject_pdf(subject: dict[str, Any], report: dict[str, Any]) -> bytes:
    period = Period.of(
        date.fromisoformat(report["period"]["from"]), date.fromisoformat(report["period"]["to"])
    )
    detail: list[list[Any]] = []
    for kind in KINDS:
        detail += [pdf_line(kind, r) for r in report[f"{kind}s"]]
    note = None
    if len(detail) > exports.PDF_ROW_LIMIT or report["rows_truncated"]:
        detail = detail[: exports.PDF_ROW_LIMIT]
        note = "El detalle está recortado; la descarga XLSX contiene todas las filas."
    tables = [
        ("Resumen", exports.SUMMARY_HEADER, exports.summary_lines(report["summary"])),
        (
            "Cumplimiento de compromisos",
            ["Indicador", "Valor"],
            exports.compliance_lines(report["summary"]["events"]),
        ),
        (
            "Detalle",
            ["Tipo", "Código", "Estado", "Descripción", "Abierto", "Cerrado", "Vence", "Responsable"],
            detail,
        ),
    ]
    return exports.pdf_document(
        subject_title(subject),
        period_text(period),
        [exports.weekly_chart(report["charts"]["weekly"])],
        tables,
        note,
    )


def pdf_line(kind: str, row: dict[str, Any]) -> list[Any]:
    def short(moment: Any) -> str:
        return exports.local(datetime.fromisoformat(moment) if isinstance(moment, str) else moment)

    due = row.get("internal_commitment_date") or row.get("due_date")
    text = row.get("summary") or row.get("title") or row.get("responsibility") or ""
    who = row.get("registered_by_name") or row.get("created_by_name") or row.get("responsible_name") or ""
    status = row["status"]
    return [
        exports.KIND_ES[kind],
        row["code"],
        exports.STATUS_ES.get(status, status),
        text[:60],
        short(row["opened_at"]),
        short(row["closed_at"]),
        exports.day(due),
        who,
    ]


@router.get(
    "/overview/export",
    summary="Download the overview (csv, xlsx or pdf)",
    response_class=Response,
    responses={200: {"content": {m: {} for m in MEDIA.values()}}},
)
async def export_overview(
    request: Request, user: Staff, start: From, end: To, format: FormatQuery
) -> Response:
    period = period_of(start, end)
    runtime = runtime_of(request)
    viewer = await viewer_of(runtime, user)
    report = await overview_report(runtime.pool, period, today(), viewer)
    tables = exports.overview_tables(report)
    headers = attachment(f"reporte-general-{period.start}-{period.end}", format)
    if format == "csv":
        body = b"\xef\xbb\xbf" + b"".join(
            exports.csv_line([title])
            + exports.csv_line(header)
            + b"".join(exports.csv_line(r) for r in rows)
            + b"\r\n"
            for title, header, rows in tables
        )
        return Response(body, media_type=MEDIA["csv"], headers=headers)
    if format == "xlsx":
        book, path = exports.temporary_xlsx()
        for title, header, rows in tables:
            sheet = book.sheet(title, header)
            for r in rows:
                sheet.add(r)
        book.close()
        return StreamingResponse(exports.file_chunks(path), media_type=MEDIA["xlsx"], headers=headers)
    charts = [exports.weekly_chart(report["charts"]["weekly"])]
    if report["charts"]["compliance_by_area"]:
        charts.append(exports.compliance_chart(report["charts"]["compliance_by_area"]))
    title = "Reporte general de atención"
    body = await asyncio.to_thread(exports.pdf_document, title, period_text(period), charts, tables)
    return Response(body, media_type=MEDIA["pdf"], headers=headers)
