"""REPORTES: choose the subject (a client, a suministro, or everything) and the period; tables, charts and
the CSV/XLSX/PDF downloads of the reports service."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from webclient.api import ApiError
from webclient.charts import Series, grouped_bars
from webclient.labels import fmt_date
from webclient.web import NotFound, Page, file_response, page

router = APIRouter()
PageDep = Annotated[Page, Depends(page)]
FORMATS = ("csv", "xlsx", "pdf")


def query_of(p: Page) -> dict[str, str]:
    q = p.request.query_params
    today = p.today()
    return {
        "client_id": q.get("client_id", ""),
        "nic": q.get("nic", ""),
        "from": q.get("desde") or (today - timedelta(days=30)).isoformat(),
        "to": q.get("hasta") or today.isoformat(),
    }


def weekly_chart(weekly: list[dict[str, Any]]) -> Markup:
    labels = [fmt_date(w["week_start"])[:5] for w in weekly]
    svg = grouped_bars(
        "Abiertos y cerrados por semana",
        "Atenciones, eventos y tickets abiertos y cerrados en cada semana del período.",
        labels,
        [Series("Abiertos", [w["opened"] for w in weekly], "bar-a"),
         Series("Cerrados", [w["closed"] for w in weekly], "bar-b")],
    )  # fmt: skip
    return Markup(svg)


@router.get("/reportes", response_class=HTMLResponse)
async def reports(p: PageDep) -> HTMLResponse:
    query = query_of(p)
    subject = {k: query[k] for k in ("client_id", "nic") if query[k]}
    period = {"from": query["from"], "to": query["to"]}
    report: dict[str, Any] | None = None
    error = None
    clients = await p.api.get("attentions", "/clients", {"limit": 200})
    if "run" in p.request.query_params:
        path = "/reports/subject" if subject else "/reports/overview"
        try:
            report = await p.api.get("reports", path, {**subject, **period})
        except ApiError as exc:
            if exc.status == 404 and not subject:
                exc.error.message = "El servicio de reportes no está disponible."
            error = exc.error
    chart = weekly_chart(report["charts"]["weekly"]) if report else None
    export = {**subject, **period}
    return p.render(
        "reports.html",
        query=query,
        clients=clients["items"],
        report=report,
        kind="subject" if subject else "overview",
        chart=chart,
        export=export,
        error=error,
    )


@router.get("/reportes/descargar")
async def download(p: PageDep) -> Response:
    query = query_of(p)
    fmt = p.request.query_params.get("formato", "")
    if fmt not in FORMATS:
        raise NotFound()
    subject = {k: query[k] for k in ("client_id", "nic") if query[k]}
    path = "/reports/subject/export" if subject else "/reports/overview/export"
    got = await p.api.download(
        "reports", path, {**subject, "from": query["from"], "to": query["to"], "format": fmt}
    )
    return file_response(got.content, got.media_type, got.disposition)
