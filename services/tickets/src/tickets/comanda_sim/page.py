"""The COMANDA simulator's web page: each person's inbox, and the buttons COMANDA's users press.

``python -m tickets.comanda_sim serve`` runs it beside the simulator's consumer of assignments (the local
stack does, on port 8107). It stands for COMANDA's own screens in demos: a person picks their user id,
sees the tickets assigned to them (or where they are in copy), and accepts, starts, closes (with a
resolution) or reopens (with a reason) one; each press publishes the change in COMANDA's format, exactly as
the command line does. It is not part of the CRM: no CRM login, and it reads nothing but its own inbox.

Every form is a plain POST answered with a redirect back to the inbox (so reloading the page never sends a
change twice); a change COMANDA refuses (a move its inbox does not offer, no resolution) shows the reason
on the page with status 409 or 422, and nothing is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from aiokafka.errors import KafkaError
from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tickets.comanda_sim.simulator import ALLOWED_FROM, ComandaSimulator, SimulatorError
from tickets.comanda_sim.store import InboxItem

log = logging.getLogger(__name__)

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

# The page's words (Spanish, as COMANDA's users read them).
STATUS_LABELS = {
    "assigned": "Asignado",
    "accepted": "Aceptado",
    "in_progress": "En proceso",
    "closed": "Cerrado",
    "reopened": "Reabierto",
}
ROLE_LABELS = {"responsible": "Responsable", "cc": "En copia"}
# action in the URL -> (status published, button label, what the notice says was done)
ACTIONS: dict[str, tuple[Any, str, str]] = {
    "accept": ("accepted", "Aceptar", "aceptado"),
    "start": ("in_progress", "Iniciar trabajo", "marcado en proceso"),
    "close": ("closed", "Cerrar", "cerrado"),
    "reopen": ("reopened", "Reabrir", "reabierto"),
}


def actions_for(item: InboxItem) -> list[str]:
    """The buttons COMANDA offers for a ticket in its current status."""
    return [action for action, (status, *_) in ACTIONS.items() if item.status in ALLOWED_FROM[status]]


def people(sim: ComandaSimulator) -> list[tuple[str, str]]:
    """(user id, name) of everyone with a ticket in COMANDA, responsible or in copy, for the picker."""
    names: dict[str, str] = {}
    for item in sim.store.all():
        names.setdefault(item.responsible_id, item.responsible_name)
        cc_names = dict(zip(item.cc_ids, item.cc_names, strict=False))
        for user_id in item.cc_ids:
            names.setdefault(user_id, cc_names.get(user_id, user_id))
    return sorted(names.items(), key=lambda p: (p[1].lower(), p[0]))


def build_page(sim: ComandaSimulator, *, consume: bool = True) -> FastAPI:
    """The page over a started simulator. ``consume``: keep taking assignments while the app runs."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        pump = asyncio.create_task(_take_assignments(sim, stop)) if consume else None
        try:
            yield
        finally:
            stop.set()
            if pump is not None:
                await pump

    app = FastAPI(title="COMANDA (simulador)", lifespan=lifespan, docs_url=None, redoc_url=None)

    def render(
        request: Request, user: str, show_closed: bool, status_code: int = 200, **extra: Any
    ) -> Response:
        entries = sim.inbox(user, include_closed=show_closed) if user else []
        body = TEMPLATES.get_template("inbox.html").render(
            user=user,
            show_closed=show_closed,
            people=people(sim),
            entries=[(role, item, actions_for(item)) for role, item in entries],
            status_labels=STATUS_LABELS,
            role_labels=ROLE_LABELS,
            actions=ACTIONS,
            notice=request.query_params.get("hecho"),
            **extra,
        )
        return HTMLResponse(body, status_code=status_code)

    @app.get("/", response_class=HTMLResponse)
    async def inbox(
        request: Request,
        user: Annotated[str, Query(max_length=100)] = "",
        closed: Annotated[bool, Query()] = False,
    ) -> Response:
        return render(request, user.strip(), closed)

    @app.post("/tickets/{ticket_id}/{action}")
    async def act(
        request: Request,
        ticket_id: str,
        action: str,
        user: Annotated[str, Form(max_length=100)] = "",
        text: Annotated[str, Form(max_length=4000)] = "",
        closed: Annotated[bool, Form()] = False,
    ) -> Response:
        user = user.strip()
        if action not in ACTIONS:
            return render(request, user, closed, 404, error=f"Acción desconocida: {action}.")
        status, label, done = ACTIONS[action]
        item = sim.store.get(ticket_id)
        if item is None:
            return render(request, user, closed, 404, error="Ese ticket no está en COMANDA.")
        if action not in actions_for(item):
            now, target = STATUS_LABELS[item.status], STATUS_LABELS[status]
            message = f"COMANDA no permite pasar el ticket {item.code} de «{now}» a «{target}»."
            return render(request, user, closed, 409, error=message)
        if action in ("close", "reopen") and not text.strip():
            what = "la resolución" if action == "close" else "el motivo"
            return render(request, user, closed, 422, error=f"Escriba {what} para {label.lower()} el ticket.")
        # What the CLI's accept/start/close/reopen publish: the next sequence, refused if not offered.
        fields = {"resolution": text} if action == "close" else {"reason": text} if action == "reopen" else {}
        try:
            await sim.publish(ticket_id, status, changed_by=user or None, enforce=True, **fields)
        except SimulatorError as exc:
            return render(request, user, closed, 409, error=f"COMANDA no permite el cambio: {exc}.")
        except KafkaError as exc:
            log.warning("could not publish %s of %s: %r", action, ticket_id, exc)
            return render(
                request, user, closed, 503, error="No se pudo publicar el cambio; inténtelo de nuevo."
            )
        query = {"user": user, "hecho": f"Ticket {item.code} {done}."}
        if closed:
            query["closed"] = "true"
        return RedirectResponse(f"/?{urlencode(query)}", status_code=303)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "tickets": len(sim.store.all())}

    return app


async def _take_assignments(sim: ComandaSimulator, stop: asyncio.Event) -> None:
    """The simulator's consumer, kept running whatever the broker does (COMANDA tries again)."""
    while not stop.is_set():
        try:
            await sim.poll(200)
        except Exception as exc:
            log.warning("taking assignments failed (%r); trying again", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
