"""ÓRDENES TÉCNICAS in the browser, on the real stack: created on an open ticket of the technical area,
submitted by its creator, approved only by the technical manager (nobody else is offered the button),
printable once approved, executed and completed by the ticket's responsible person."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from stack.test_local_stack import _wait_for
from web.webstack import RunningStack, api_as, shot, sign_in

pytestmark = pytest.mark.integration


def open_technical_ticket(stack: RunningStack) -> str:
    """A client shared with the technician, an attention, an event and a ticket for the technician (API)."""
    clerk = api_as(stack, "u-comercial")
    client = clerk.post("/clients", json={"kind": "stakeholder", "name": f"Alcaldía {uuid.uuid4().hex[:6]}",
                                          "access_user_ids": ["u-tecnico", "u-gtecnico"]}).json()  # fmt: skip
    attention = clerk.post(
        f"/clients/{client['client_id']}/attentions",
        json={"channel": "letter", "subject": "Poste dañado", "happened_at": "2026-11-20T10:00:00-06:00"},
    ).json()
    today = date.today()
    event = clerk.post(
        f"/attentions/{attention['attention_id']}/events",
        json={"title": "Reemplazo de poste", "internal_commitment_date": str(today + timedelta(days=4)),
              "client_commitment_date": str(today + timedelta(days=8))},
    ).json()  # fmt: skip
    ticket = clerk.post(
        f"/events/{event['event_id']}/tickets",
        json={"responsibility": "Inspeccionar el poste", "responsible_id": "u-tecnico",
              "due_date": str(today + timedelta(days=3))},
    ).json()  # fmt: skip
    return str(ticket["ticket_id"])


def test_work_order_is_approved_by_the_technical_manager_only(
    browser: Any, web_stack: RunningStack, screenshots: Path
) -> None:
    ticket_id = open_technical_ticket(web_stack)
    tickets = api_as(web_stack, "u-comercial", "tickets")
    _wait_for(
        lambda: tickets.get(f"/tickets/{ticket_id}").status_code == 200, 60, "the ticket in the service"
    )

    creator = sign_in(browser, web_stack, "u-comercial")
    creator.goto(f"{web_stack.url}/tickets/{ticket_id}")
    creator.get_by_role("link", name="Nueva orden técnica").click()
    creator.select_option("#work_type", "inspection")
    creator.get_by_label("Dirección").fill("Colonia Escalón, poste 14")
    creator.get_by_label("Descripción del trabajo").fill("Inspeccionar el poste y la línea secundaria")
    creator.get_by_role("button", name="Crear orden (borrador)").click()
    creator.get_by_text("Orden técnica creada.").wait_for()
    order_url = creator.url.split("?")[0]
    creator.get_by_role("button", name="Enviar para aprobación").click()
    creator.get_by_text("Esperando la aprobación de la gerencia técnica.").wait_for()
    assert creator.get_by_role("button", name="Aprobar").count() == 0
    creator.context.close()

    manager = sign_in(browser, web_stack, "u-gtecnico")
    manager.goto(order_url)
    manager.get_by_label("Comentario (aprobar)").fill("Procede; llevar escalera")
    manager.get_by_role("button", name="Aprobar").click()
    manager.get_by_text("Orden técnica actualizada.").wait_for()
    assert manager.locator("h1 .badge").inner_text() == "Aprobada"
    href = manager.get_by_role("link", name="Imprimir (PDF)").get_attribute("href")
    printable = manager.request.get(f"{web_stack.url}{href}")
    assert printable.status == 200 and printable.body()[:5] == b"%PDF-"
    manager.context.close()

    technician = sign_in(browser, web_stack, "u-tecnico")
    technician.goto(order_url)
    technician.get_by_role("button", name="Iniciar ejecución").click()
    technician.get_by_text("Orden técnica actualizada.").wait_for()
    technician.get_by_label("Informe de ejecución (completar)").fill(
        "Poste en buen estado; se ajustó la línea"
    )
    technician.get_by_role("button", name="Completar").click()
    technician.get_by_text("Orden técnica actualizada.").wait_for()
    assert technician.locator("h1 .badge").inner_text() == "Completada"
    shot(technician, screenshots, "14-orden-tecnica")
    technician.context.close()
