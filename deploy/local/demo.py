"""Demo data for the local stack.

``deploy/local/stack.py`` calls :func:`load_demo_data` once, after every service's ``/readyz`` answered 200
(skip it with ``--no-demo``). Demo data goes in through the services' public HTTP APIs only, as a person
would put it in, so the events flow through the whole system: clients and their access lists, attentions,
events with commitment dates, and tickets that reach the COMANDA simulator's inboxes and the mail catcher.
Running it again on the same databases adds nothing twice: it stops when the demo clients already exist.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import httpx

# Tickets are assigned to these development users (seeded by the attentions service under DEV_AUTH).
CLERK = "u-atencion"
SALES = "u-comercial"
TECHNICIAN = "u-tecnico"


class _Api:
    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
        return dict(response.json())

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()


def _token(attentions_url: str, user_id: str) -> str:
    response = httpx.post(f"{attentions_url}/dev/token", json={"user_id": user_id}, timeout=30)
    response.raise_for_status()
    return str(response.json()["access_token"])


def load_demo_data(urls: Mapping[str, str], factelec_source: str = "") -> None:
    """Load the demo data. ``urls`` maps each service name to its API's base URL (``http://127.0.0.1:8101``);
    ``factelec_source`` is the URL of the FACTELEC demo database to fill (20,000 supply points), which the
    factelec-sync service reads on its schedule and publishes to the attentions service's replica."""
    base = urls["attentions"]
    clerk = _Api(base, _token(base, CLERK))
    sales = _Api(base, _token(base, SALES))
    existing = clerk.get("/clients", q="Industrias del Pacífico")
    if existing.get("total") if isinstance(existing, dict) else len(existing):
        print("demo data already present")
        return
    if factelec_source:
        subprocess.run(
            [sys.executable, "-m", "factelec_sync", "demo-source", "--rows", "20000",
             "--dsn", factelec_source, "--quiet"],
            check=True,
        )  # fmt: skip
        print("FACTELEC demo database filled with 20,000 supply points; the sync publishes them shortly")
    today = date.today()

    def days(n: int) -> str:
        return (today + timedelta(days=n)).isoformat()

    prospect = clerk.post(
        "/clients",
        {"kind": "prospect", "name": "Industrias del Pacífico S.A. de C.V.", "tax_id": "0614-120398-102-3",
         "sector": "Industria", "address": "Km 12 carretera a Acajutla, Sonsonate",
         "access_user_ids": [TECHNICIAN]},
    )  # fmt: skip
    clerk.post(
        f"/clients/{prospect['client_id']}/contacts",
        {"name": "Rosa Alvarado", "position": "Gerente de planta", "phone": "+503 2450-1122",
         "email": "ralvarado@pacifico.example", "decision_maker": True},
    )  # fmt: skip
    stakeholder = sales.post(
        "/clients",
        {"kind": "stakeholder", "name": "Alcaldía Municipal de Sonsonate", "sector": "Gobierno local",
         "address": "Centro de Gobierno Municipal, Sonsonate"},
    )  # fmt: skip
    internal = sales.post(
        "/clients",
        {"kind": "stakeholder", "internal": True, "name": "Gerencia de Tecnología (interno)",
         "sector": "Interno"},
    )  # fmt: skip

    attention = clerk.post(
        f"/clients/{prospect['client_id']}/attentions",
        {"channel": "letter", "subject": "Solicitud de nueva acometida trifásica",
         "description": "Carta de la gerente de planta solicitando factibilidad para 500 kVA.",
         "happened_at": f"{days(-3)}T09:30:00-06:00"},
    )  # fmt: skip
    event = clerk.post(
        f"/attentions/{attention['attention_id']}/events",
        {"title": "Factibilidad de acometida 500 kVA",
         "description": "Inspección, estudio de carga y presupuesto.",
         "internal_commitment_date": days(10), "client_commitment_date": days(15)},
    )  # fmt: skip
    clerk.post(
        f"/events/{event['event_id']}/tickets",
        {"responsibility": "Inspeccionar el punto de conexión y la red de media tensión", "due_date": days(5),
         "responsible_id": TECHNICIAN, "cc_ids": ["u-gtecnico"]},
    )  # fmt: skip
    clerk.post(
        f"/events/{event['event_id']}/tickets",
        {"responsibility": "Preparar el presupuesto de la obra", "due_date": days(9),
         "responsible_id": SALES},
    )  # fmt: skip

    sales.post(
        f"/clients/{stakeholder['client_id']}/attentions",
        {"channel": "visit", "subject": "Reunión sobre alumbrado público del centro histórico",
         "description": "Se acordó revisar las luminarias dañadas reportadas por la alcaldía.",
         "happened_at": f"{days(-1)}T14:00:00-06:00"},
    )  # fmt: skip
    sales.post(
        f"/clients/{internal['client_id']}/attentions",
        {"channel": "email", "subject": "Mejora del reporte de cobros",
         "description": "Hito: se registró el requerimiento; sin tareas por ahora.",
         "happened_at": f"{days(-7)}T08:00:00-06:00"},
    )  # fmt: skip
    print(
        "demo data loaded: 3 clients, 3 attentions, 1 event with 2 tickets (see the COMANDA simulator's "
        f"inboxes and the mail catcher). Sign in as {CLERK}, {SALES}, {TECHNICIAN}, u-gtecnico or u-admin "
        "(POST /dev/token on the attentions API)."
    )
