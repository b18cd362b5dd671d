"""SUMINISTROS: search by NIC, holder or address; detail with the attention tabs, history, new attention."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from webclient.pages.attentions import create_attention, now_local
from webclient.pages.clients import TABS
from webclient.web import Page, page, redirect, values

router = APIRouter()
PageDep = Annotated[Page, Depends(page)]


@router.get("/suministros", response_class=HTMLResponse)
async def search(p: PageDep) -> HTMLResponse:
    limit, offset = p.paging()
    q = p.request.query_params
    filters = {k: q.get(k, "") for k in ("nic", "holder", "address")}
    data = None
    if any(filters.values()):
        data = await p.api.get("attentions", "/supply-points", {**filters, "limit": limit, "offset": offset})
    return p.render("supply_points.html", data=data, pager=p.pager(data) if data else None, filters=filters)


def base(nic: str) -> str:
    return f"/supply-points/{quote(nic, safe='')}"


@router.get("/suministros/{nic}", response_class=HTMLResponse)
async def show(p: PageDep, nic: str) -> HTMLResponse:
    point = await p.api.get("attentions", base(nic))
    tab = p.request.query_params.get("pestana", "abiertas")
    tab = tab if tab in TABS else "abiertas"
    limit, offset = p.paging()
    attentions = await p.api.get(
        "attentions", f"{base(nic)}/attentions", {"status": TABS[tab], "limit": limit, "offset": offset}
    )
    return p.render("supply_point.html", point=point, tab=tab, attentions=attentions,
                    pager=p.pager(attentions))  # fmt: skip


@router.get("/suministros/{nic}/historial", response_class=HTMLResponse)
async def history(p: PageDep, nic: str) -> HTMLResponse:
    point = await p.api.get("attentions", base(nic))
    items = await p.api.get("attentions", f"{base(nic)}/history")
    return p.render("history.html", subject_name=f"{point['nic']} — {point['holder']}",
                    back=f"/suministros/{quote(nic, safe='')}", items=items)  # fmt: skip


@router.get("/suministros/{nic}/atenciones/nueva", response_class=HTMLResponse)
async def new_attention_form(p: PageDep, nic: str) -> HTMLResponse:
    point = await p.api.get("attentions", base(nic))
    return p.render("attention_new.html", subject_name=f"{point['nic']} — {point['holder']}",
                    back=f"/suministros/{quote(nic, safe='')}", contacts=[],
                    form={"happened_at": now_local(p), "channel": "phone"})  # fmt: skip


@router.post("/suministros/{nic}/atenciones/nueva")
async def create(p: PageDep, nic: str) -> Response:
    form = await p.form()
    attention, error = await create_attention(p, f"{base(nic)}/attentions", form)
    if attention is None:
        point = await p.api.get("attentions", base(nic))
        return p.render("attention_new.html", subject_name=f"{point['nic']} — {point['holder']}",
                        back=f"/suministros/{quote(nic, safe='')}", contacts=[], form=values(form),
                        error=error)  # fmt: skip
    if error:
        return redirect(f"/atenciones/{attention['attention_id']}", "atencion", error_adjunto=error.message)
    return redirect(f"/atenciones/{attention['attention_id']}", "atencion")
