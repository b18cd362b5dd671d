"""PROSPECTOS Y STAKEHOLDERS: list and search, new client, detail with access list ("+ Agregar usuario"),
contacts, the attention tabs (ABIERTAS / CERRADAS / TODAS), history, and a new attention with PDFs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from webclient.api import ApiError
from webclient.errors import UserError
from webclient.pages.attentions import create_attention, now_local
from webclient.web import Page, page, redirect, text, values

router = APIRouter()
PageDep = Annotated[Page, Depends(page)]
TABS = {"abiertas": "open", "cerradas": "closed", "todas": "all"}


async def staff(p: Page) -> list[dict[str, Any]]:
    data = await p.api.get("attentions", "/staff", {"active": "true", "limit": 200})
    return list(data["items"])


@router.get("/clientes", response_class=HTMLResponse)
async def list_clients(p: PageDep) -> HTMLResponse:
    limit, offset = p.paging()
    q = p.request.query_params
    filters = {"q": q.get("q", ""), "kind": q.get("kind", "")}
    data = await p.api.get("attentions", "/clients", {**filters, "limit": limit, "offset": offset})
    return p.render("clients.html", data=data, pager=p.pager(data), filters=filters)


@router.get("/clientes/nuevo", response_class=HTMLResponse)
async def new_client_form(p: PageDep) -> HTMLResponse:
    return p.render("client_new.html", form={"kind": "prospect"}, staff=await staff(p))


@router.post("/clientes/nuevo")
async def create_client(p: PageDep) -> Response:
    form = await p.form()
    phones = [x.strip() for x in text(form, "phones").split(",") if x.strip()]
    body: dict[str, Any] = {
        "kind": text(form, "kind"),
        "internal": form.get("internal") == "on",
        "name": text(form, "name"),
        "phones": phones,
        "access_user_ids": [u for u in form.getlist("access_user_ids") if isinstance(u, str) and u],
    }
    for name in ("tax_id", "sector", "address", "email", "notes"):
        if text(form, name):
            body[name] = text(form, name)
    try:
        client = await p.api.post("attentions", "/clients", body)
    except ApiError as exc:
        exc.reraise_unless_form_error()
        return p.render("client_new.html", error=exc.error, form=values(form), staff=await staff(p))
    return redirect(f"/clientes/{client['client_id']}", "cliente")


async def client_page(p: Page, client_id: uuid.UUID, error: UserError | None = None,
                      form: dict[str, Any] | None = None) -> HTMLResponse:  # fmt: skip
    client = await p.api.get("attentions", f"/clients/{client_id}")
    tab = p.request.query_params.get("pestana", "abiertas")
    tab = tab if tab in TABS else "abiertas"
    limit, offset = p.paging()
    attentions = await p.api.get(
        "attentions",
        f"/clients/{client_id}/attentions",
        {"status": TABS[tab], "limit": limit, "offset": offset},
    )
    return p.render(
        "client.html",
        client=client,
        tab=tab,
        attentions=attentions,
        pager=p.pager(attentions),
        staff=await staff(p),
        error=error,
        form=form or {},
    )


@router.get("/clientes/{client_id}", response_class=HTMLResponse)
async def show_client(p: PageDep, client_id: uuid.UUID) -> HTMLResponse:
    return await client_page(p, client_id)


@router.post("/clientes/{client_id}/acceso")
async def grant(p: PageDep, client_id: uuid.UUID) -> Response:
    form = await p.form()
    try:
        await p.api.post("attentions", f"/clients/{client_id}/access", {"user_id": text(form, "user_id")})
    except ApiError as exc:
        exc.reraise_unless_form_error()
        return await client_page(p, client_id, exc.error)
    return redirect(f"/clientes/{client_id}", "acceso")


@router.post("/clientes/{client_id}/acceso/{user_id}/quitar")
async def revoke(p: PageDep, client_id: uuid.UUID, user_id: str) -> Response:
    await p.form()
    try:
        await p.api.delete("attentions", f"/clients/{client_id}/access/{user_id}")
    except ApiError as exc:
        exc.reraise_unless_form_error()
        return await client_page(p, client_id, exc.error)
    if user_id == p.user.user_id:
        return redirect("/clientes", "acceso-quitado")
    return redirect(f"/clientes/{client_id}", "acceso-quitado")


@router.post("/clientes/{client_id}/contactos")
async def add_contact(p: PageDep, client_id: uuid.UUID) -> Response:
    form = await p.form()
    body: dict[str, Any] = {"name": text(form, "name"), "decision_maker": form.get("decision_maker") == "on"}
    for name in ("position", "phone", "email"):
        if text(form, name):
            body[name] = text(form, name)
    try:
        await p.api.post("attentions", f"/clients/{client_id}/contacts", body)
    except ApiError as exc:
        exc.reraise_unless_form_error()
        return await client_page(p, client_id, exc.error, values(form))
    return redirect(f"/clientes/{client_id}", "contacto")


@router.get("/clientes/{client_id}/historial", response_class=HTMLResponse)
async def history(p: PageDep, client_id: uuid.UUID) -> HTMLResponse:
    client = await p.api.get("attentions", f"/clients/{client_id}")
    items = await p.api.get("attentions", f"/clients/{client_id}/history")
    return p.render("history.html", subject_name=client["name"], back=f"/clientes/{client_id}", items=items)


@router.get("/clientes/{client_id}/atenciones/nueva", response_class=HTMLResponse)
async def new_attention_form(p: PageDep, client_id: uuid.UUID) -> HTMLResponse:
    client = await p.api.get("attentions", f"/clients/{client_id}")
    return p.render(
        "attention_new.html",
        subject_name=client["name"],
        back=f"/clientes/{client_id}",
        contacts=client["contacts"],
        form={"happened_at": now_local(p), "channel": "visit"},
    )


@router.post("/clientes/{client_id}/atenciones/nueva")
async def create_client_attention(p: PageDep, client_id: uuid.UUID) -> Response:
    form = await p.form()
    attention, error = await create_attention(p, f"/clients/{client_id}/attentions", form)
    if attention is None:
        client = await p.api.get("attentions", f"/clients/{client_id}")
        return p.render(
            "attention_new.html",
            subject_name=client["name"],
            back=f"/clientes/{client_id}",
            contacts=client["contacts"],
            form=values(form),
            error=error,
        )
    if error:
        return redirect(f"/atenciones/{attention['attention_id']}", "atencion", error_adjunto=error.message)
    return redirect(f"/atenciones/{attention['attention_id']}", "atencion")
