"""The web client alone, without a browser: pages rendered from API answers (httpx.MockTransport stands in
for the services), problem+json put in Spanish, CSRF, sign-in redirects, role-dependent actions."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from webclient.app import build_app
from webclient.charts import Series, grouped_bars
from webclient.errors import explain
from webclient.pages.auth import safe_next
from webclient.session import csrf_token
from webclient.settings import Settings

API = "http://api.test"
SETTINGS = Settings(
    attentions_api_url=f"{API}/attentions",
    tickets_api_url=f"{API}/tickets",
    reports_api_url=f"{API}/reports",
    session_secret="test-secret-0123456789",
    dev_auth=True,
)
ATTENTION_ID = uuid.uuid4()
EVENT_ID = uuid.uuid4()
ORDER_ID = uuid.uuid4()


def token_for(user_id: str, roles: list[str]) -> str:
    """A JWT-shaped token: the web client only reads its claims; the services verify the signature."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {
        "sub": user_id,
        "name": user_id,
        "roles": roles,
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


def problem(status: int, rule: str, field: str | None = None) -> httpx.Response:
    error: dict[str, str] = {"rule": rule, "message": "english detail"}
    if field:
        error["field"] = field
    body = {"type": "about:blank", "title": "x", "status": status, "errors": [error]}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def attention(status: str = "open") -> dict[str, Any]:
    return {
        "attention_id": str(ATTENTION_ID),
        "code": "ATN-2026-000001",
        "subject_kind": "client",
        "client_id": str(uuid.uuid4()),
        "nic": None,
        "subject_name": "Cliente S.A.",
        "channel": "visit",
        "subject": "Solicitud",
        "description": "",
        "happened_at": "2026-11-20T15:00:00Z",
        "registered_by": "u-x",
        "contact_ids": [],
        "contact_names": [],
        "contacts": [],
        "attachments": [],
        "status": status,
    }


def event(open_tickets: int) -> dict[str, Any]:
    tickets = [
        {
            "ticket_id": str(uuid.uuid4()),
            "code": f"TCK-2026-00000{i}",
            "responsibility": "r",
            "due_date": "2026-11-25",
            "responsible_id": "u-tecnico",
            "status": "open",
        }
        for i in range(open_tickets)
    ]
    return {
        "event_id": str(EVENT_ID),
        "code": "EVT-2026-000001",
        "title": "Estudio",
        "description": "",
        "client_commitment_date": "2026-12-10",
        "internal_commitment_date": "2026-12-01",
        "status": "open",
        "attention": {
            "attention_id": str(ATTENTION_ID),
            "code": "ATN-2026-000001",
            "subject": "Solicitud",
            "subject_name": "Cliente S.A.",
            "nic": None,
        },
        "tickets": tickets,
        "attachments": [],
    }


def order(status: str) -> dict[str, Any]:
    who = {"user_id": "u-tecnico", "name": "Luis"}
    return {
        "id": str(ORDER_ID),
        "code": "OT-2026-000001",
        "status": status,
        "work_type": "inspection",
        "ticket": {
            "id": str(uuid.uuid4()),
            "code": "TCK-2026-000001",
            "responsibility": "r",
            "status": "assigned",
            "responsible_name": "Luis",
            "responsible_area": "Gerencia Técnica",
        },
        "area": "Gerencia Técnica",
        "nic": "123",
        "address": None,
        "description": "d",
        "requested_date": "2026-11-24",
        "crew_notes": None,
        "completion_report": None,
        "created_by": who,
        "decision": None,
        "audit": [],
    }


class FakeApis:
    """Answers for the APIs, per (method, path); records every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = {}
        self.seen: list[httpx.Request] = []

    def on(self, method: str, path: str, answer: Any, status: int = 200) -> None:
        if isinstance(answer, httpx.Response):
            self.routes[(method, path)] = lambda r: answer
        else:
            self.routes[(method, path)] = lambda r: httpx.Response(status, json=answer)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            return problem(404, "not_found")
        return handler(request)


@pytest.fixture
def apis() -> FakeApis:
    fake = FakeApis()
    fake.on("GET", "/attentions/staff", {"items": [{"user_id": "u-tecnico", "name": "Luis", "area": "GT"}],
                                         "total": 1, "limit": 200, "offset": 0})  # fmt: skip
    return fake


@pytest.fixture
def client(apis: FakeApis) -> Iterator[TestClient]:
    app = build_app(SETTINGS, transport=httpx.MockTransport(apis))
    with TestClient(app, base_url="http://web.test", follow_redirects=False) as c:
        yield c


def sign_in(client: TestClient, roles: list[str] | None = None, user_id: str = "u-comercial") -> str:
    token = token_for(user_id, roles or ["agent"])
    client.cookies.set(SETTINGS.session_cookie, token)
    return csrf_token(SETTINGS, token)


# -- problem+json in Spanish -----------------------------------------------------------------------------


def test_broken_rules_are_explained_in_spanish_with_the_field() -> None:
    error = explain(422, {"errors": [{"field": "due_date", "rule": "due_not_after_internal_commitment",
                                      "message": "due_date must be on or before 2026-12-01"}]})  # fmt: skip
    assert "no puede ser posterior a la fecha de compromiso interno" in error.message
    assert error.lines == [f"Fecha límite: {error.message}"]
    closing = explain(
        409, {"errors": [{"field": "event_id", "rule": "tickets_still_open", "message": "2 open"}]}
    )
    assert closing.message == "El evento no se puede cerrar: todavía tiene tickets abiertos."


def test_statuses_without_a_known_rule_still_read_as_spanish() -> None:
    assert explain(404, {"detail": "client not found"}).message.startswith("No encontrado")
    assert explain(403, None).message == "No tiene permiso para realizar esta acción."
    assert explain(502, None).message.startswith("El servicio no está disponible")
    unknown = explain(422, {"errors": [{"field": "body.foo", "rule": "weird_rule", "message": "bad"}]})
    assert unknown.message == "El valor no es válido."
    assert "bad" not in unknown.message  # never the English message alone


# -- sessions, CSRF ------------------------------------------------------------------------------------------


def test_pages_without_a_session_redirect_to_sign_in_and_back(client: TestClient) -> None:
    response = client.get("/atenciones?q=x")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?siguiente=%2Fatenciones%3Fq%3Dx"


def test_only_local_paths_are_followed_after_sign_in() -> None:
    assert safe_next("/clientes/1") == "/clientes/1"
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil", None, ""):
        assert safe_next(bad) == "/"


def test_sign_in_stores_the_token_in_an_httponly_samesite_cookie(client: TestClient, apis: FakeApis) -> None:
    apis.on(
        "GET", "/attentions/dev/users", [{"user_id": "u-comercial", "name": "María", "area": "Comercial"}]
    )
    apis.on("POST", "/attentions/dev/token", {"access_token": token_for("u-comercial", ["agent"])})
    form = client.get("/login")
    assert "María" in form.text
    nonce = form.cookies["crm_login"]
    refused = client.post("/login", data={"user_id": "u-comercial", "csrf": "forged"})
    assert refused.status_code == 403
    response = client.post("/login", data={"user_id": "u-comercial", "csrf": nonce, "siguiente": "/tickets"})
    assert response.status_code == 303 and response.headers["location"] == "/tickets"
    cookie = response.headers["set-cookie"]
    assert "crm_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_a_form_without_its_csrf_token_is_refused_before_any_api_call(
    client: TestClient, apis: FakeApis
) -> None:
    sign_in(client)
    response = client.post(f"/atenciones/{ATTENTION_ID}/cerrar", data={"note": "listo", "csrf": "wrong"})
    assert response.status_code == 403
    assert "Formulario vencido" in response.text
    assert not [r for r in apis.seen if r.method == "POST"]


def test_a_form_with_its_csrf_token_calls_the_api_with_the_bearer_and_request_id(
    client: TestClient, apis: FakeApis
) -> None:
    csrf = sign_in(client)
    apis.on("POST", f"/attentions/attentions/{ATTENTION_ID}/close", attention("closed"))
    response = client.post(
        f"/atenciones/{ATTENTION_ID}/cerrar",
        data={"note": "listo", "csrf": csrf},
        headers={"x-request-id": "abc"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/atenciones/{ATTENTION_ID}?aviso=cerrada"
    sent = next(r for r in apis.seen if r.method == "POST")
    assert sent.headers["authorization"].startswith("Bearer ")
    assert json.loads(sent.content) == {"note": "listo"}
    assert sent.headers["x-request-id"]


def test_a_form_sent_twice_carries_the_same_idempotency_keys(client: TestClient, apis: FakeApis) -> None:
    """A double click or a browser retry sends the form again: the services see the same keys (one per
    write the form causes), so they apply it once; a form rendered anew gets a new key."""
    csrf = sign_in(client)
    apis.on("GET", f"/attentions/attentions/{ATTENTION_ID}", attention())
    apis.on("GET", f"/attentions/attentions/{ATTENTION_ID}/events", [])
    page = client.get(f"/atenciones/{ATTENTION_ID}")
    assert page.status_code == 200, page.text
    keys = set(re.findall(r'name="idempotency_key" value="([0-9a-f]{32})"', page.text))
    assert len(keys) >= 2  # one per form on the page, all different
    again = client.get(f"/atenciones/{ATTENTION_ID}")
    assert not keys & set(re.findall(r'name="idempotency_key" value="([0-9a-f]{32})"', again.text))
    apis.on("POST", f"/attentions/attentions/{ATTENTION_ID}/close", attention("closed"))
    form = {"note": "listo", "csrf": csrf, "idempotency_key": sorted(keys)[0]}
    for _ in range(2):
        assert client.post(f"/atenciones/{ATTENTION_ID}/cerrar", data=form).status_code == 303
    sent = [r.headers.get("idempotency-key") for r in apis.seen if r.method == "POST"]
    assert sent == [f"web-{sorted(keys)[0]}-0"] * 2


# -- pages -------------------------------------------------------------------------------------------------


def test_an_api_404_is_the_no_encontrado_page(client: TestClient) -> None:
    sign_in(client)
    response = client.get(f"/clientes/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "No encontrado" in response.text
    assert client.get("/clientes/not-a-uuid").status_code == 404


def test_attention_close_is_disabled_with_the_reason_while_events_are_open(
    client: TestClient, apis: FakeApis
) -> None:
    sign_in(client)
    apis.on("GET", f"/attentions/attentions/{ATTENTION_ID}", attention())
    apis.on("GET", f"/attentions/attentions/{ATTENTION_ID}/events", [
        {**event(0), "status": "open", "tickets_total": 0, "tickets_closed": 0}])  # fmt: skip
    html = client.get(f"/atenciones/{ATTENTION_ID}").text
    assert "No se puede cerrar: 1 evento abierto." in html
    assert 'disabled aria-describedby="close-reason">Cerrar atención' in html
    apis.on("GET", f"/attentions/attentions/{ATTENTION_ID}/events", [])
    html = client.get(f"/atenciones/{ATTENTION_ID}").text
    assert "No se puede cerrar" not in html


def test_a_refused_ticket_is_shown_on_the_event_page_in_spanish(client: TestClient, apis: FakeApis) -> None:
    csrf = sign_in(client)
    apis.on("GET", f"/attentions/events/{EVENT_ID}", event(1))
    apis.on("POST", f"/attentions/events/{EVENT_ID}/tickets",
            problem(422, "due_not_after_internal_commitment", "due_date"))  # fmt: skip
    response = client.post(
        f"/eventos/{EVENT_ID}/tickets",
        data={
            "csrf": csrf,
            "responsibility": "Medir",
            "responsible_id": "u-tecnico",
            "due_date": "2026-12-05",
        },
    )
    assert response.status_code == 422
    assert "Fecha límite: La fecha límite del ticket no puede ser posterior" in response.text
    assert 'value="2026-12-05"' in response.text  # the form keeps what was typed
    assert 'data-due-limit="2026-12-01"' in response.text and 'max="2026-12-01"' in response.text
    assert "No se puede cerrar: 1 ticket abierto en COMANDA." in response.text


def test_unreachable_api_reads_as_service_unavailable(apis: FakeApis) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    app = build_app(SETTINGS, transport=httpx.MockTransport(down))
    with TestClient(app, base_url="http://web.test") as c:
        sign_in(c)
        response = c.get("/atenciones")
    assert response.status_code == 503
    assert "El servicio no está disponible en este momento" in response.text


@pytest.mark.parametrize(("roles", "offered"), [(["agent"], False), (["technical_manager"], True)])
def test_approval_is_offered_to_technical_managers_only(
    client: TestClient, apis: FakeApis, roles: list[str], offered: bool
) -> None:
    sign_in(client, roles)
    apis.on("GET", f"/tickets/work-orders/{ORDER_ID}", order("submitted"))
    html = client.get(f"/ordenes/{ORDER_ID}").text
    assert (">Aprobar</button>" in html) is offered
    assert (">Rechazar</button>" in html) is offered
    assert ("Esperando la aprobación de la gerencia técnica" in html) is not offered


def test_lists_paginate_keeping_their_filters(client: TestClient, apis: FakeApis) -> None:
    sign_in(client)
    items = [{**attention(), "events_total": 0, "events_closed": 0}]
    apis.on("GET", "/attentions/attentions", {"items": items, "total": 45, "limit": 20, "offset": 20})
    html = client.get("/atenciones?status=open&pagina=2").text
    assert "45 resultados · página 2 de 3" in html
    assert 'href="?status=open&amp;pagina=1"' in html and 'href="?status=open&amp;pagina=3"' in html
    sent = next(r for r in apis.seen if r.url.path == "/attentions/attentions")
    assert sent.url.params["offset"] == "20" and sent.url.params["status"] == "open"


def test_charts_are_accessible_svg() -> None:
    svg = grouped_bars("Título <x>", "Descripción", ["16/11"], [Series("Abiertos", [3], "bar-a")])
    assert svg.startswith('<svg class="chart" role="img" aria-labelledby="c-t c-d"')
    assert '<title id="c-t">Título &lt;x&gt;</title>' in svg


def test_oidc_authorization_code_flow_with_pkce_keeps_the_access_token(apis: FakeApis) -> None:
    issuer = "https://id.edesal.example"
    settings = SETTINGS.model_copy(
        update={"dev_auth": False, "oidc_issuer": issuer, "oidc_client_id": "crm-web",
                "oidc_redirect_uri": "https://crm.edesal.example/login/callback"}
    )  # fmt: skip
    access = token_for("u-gtecnico", ["technical_manager"])
    endpoints = {"authorization_endpoint": f"{issuer}/authorize", "token_endpoint": f"{issuer}/token"}
    apis.on("GET", "/.well-known/openid-configuration", endpoints)
    exchanged: list[dict[str, str]] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        exchanged.append(dict(httpx.QueryParams(request.content.decode())))
        return httpx.Response(200, json={"access_token": access, "token_type": "Bearer"})

    apis.routes[("POST", "/token")] = token_endpoint
    app = build_app(settings, transport=httpx.MockTransport(apis))
    with TestClient(app, base_url="http://web.test", follow_redirects=False) as c:
        assert "Ingresar con la cuenta de EDESAL" in c.get("/login").text
        start = c.get("/login/oidc?siguiente=/tickets")
        assert start.status_code == 303
        target = httpx.URL(start.headers["location"])
        assert str(target).startswith(f"{issuer}/authorize?")
        assert target.params["client_id"] == "crm-web" and target.params["code_challenge_method"] == "S256"
        forged = c.get("/login/callback", params={"code": "c0de", "state": "forged"})
        assert forged.status_code == 400 and not exchanged
        done = c.get("/login/callback", params={"code": "c0de", "state": target.params["state"]})
    assert done.status_code == 303 and done.headers["location"] == "/tickets"
    assert f"crm_session={access}" in done.headers["set-cookie"]
    sent = exchanged[0]
    assert sent["grant_type"] == "authorization_code" and sent["code"] == "c0de"
    verifier_hash = base64.urlsafe_b64encode(hashlib.sha256(sent["code_verifier"].encode()).digest())
    assert verifier_hash.decode().rstrip("=") == target.params["code_challenge"]


def test_a_form_on_something_no_longer_visible_is_the_no_encontrado_page(client: TestClient) -> None:
    csrf = sign_in(client)
    response = client.post(f"/clientes/{uuid.uuid4()}/acceso", data={"csrf": csrf, "user_id": "u-tecnico"})
    assert response.status_code == 404 and "No encontrado" in response.text


def test_an_expired_session_on_a_form_goes_to_sign_in(client: TestClient, apis: FakeApis) -> None:
    csrf = sign_in(client)
    apis.on("POST", f"/attentions/events/{EVENT_ID}/close", problem(401, "invalid_token"))
    response = client.post(f"/eventos/{EVENT_ID}/cerrar", data={"csrf": csrf})
    assert response.status_code == 303 and response.headers["location"].startswith("/login?siguiente=")


def test_overdue_and_due_soon_tickets_stand_out_in_words_not_only_colour(
    client: TestClient, apis: FakeApis
) -> None:
    sign_in(client)
    # The web client's today is El Salvador's (UTC-6): near midnight UTC the two dates differ.
    today = datetime.now(ZoneInfo("America/El_Salvador")).date()

    def ticket(code: str, due: date, status: str = "assigned") -> dict[str, Any]:
        person = {"user_id": "u-tecnico", "name": "Luis", "email": "l@x", "area": "GT"}
        return {
            "id": str(uuid.uuid4()), "code": code, "responsibility": "r", "due_date": due.isoformat(),
            "overdue": due < today, "status": status, "responsible": person, "cc": [],
            "event": {"id": str(EVENT_ID), "code": "EVT-1"},
            "attention": {"id": str(ATTENTION_ID), "code": "ATN-1"},
        }  # fmt: skip

    items = [
        ticket("TCK-LATE", today - timedelta(days=1)),
        ticket("TCK-SOON", today + timedelta(days=2)),
        ticket("TCK-LATER", today + timedelta(days=30)),
        ticket("TCK-DONE", today - timedelta(days=5), "closed"),
    ]
    apis.on("GET", "/tickets/tickets", {"items": items, "total": 4, "limit": 20, "offset": 0})
    html = client.get("/tickets").text
    rows = {row.split("</a>", 1)[0].rsplit(">", 1)[-1]: row for row in html.split("<tr")[1:]}
    assert rows["TCK-LATE"].startswith(' class="row-overdue"') and "(vencido)" in rows["TCK-LATE"]
    assert rows["TCK-SOON"].startswith(' class="row-soon"') and "(por vencer)" in rows["TCK-SOON"]
    for calm in ("TCK-LATER", "TCK-DONE"):
        assert rows[calm].startswith(' class="row-"') and "(vencido)" not in rows[calm]
        assert "(por vencer)" not in rows[calm]
