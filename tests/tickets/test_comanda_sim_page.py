"""The COMANDA simulator's page, served by ``python -m tickets.comanda_sim serve`` as the local stack runs it:
a person opens their inbox, accepts and closes a ticket, and the closure reaches the CRM."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from crm_contracts.events.tickets import TicketRequested
from eventually import eventually

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def page(stack: Any, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": stack.settings.kafka_bootstrap_servers,
        "TOPIC_PREFIX": stack.settings.topic_prefix,
    }
    log = open(tmp_path / "comanda-sim.log", "wb")  # noqa: SIM115 (closed after the process)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tickets.comanda_sim", "--state", str(tmp_path / "comanda.db"),
        "serve", "--port", str(port),
        env=env, stdout=log, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            async def health() -> int:
                if proc.returncode is not None:
                    raise AssertionError((tmp_path / "comanda-sim.log").read_text())
                try:
                    return (await client.get("/healthz")).status_code
                except httpx.TransportError:
                    return 0

            await eventually(health, lambda status: status == 200, timeout=60, what="the page answers")
            yield client
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 20)
        log.close()


async def test_a_person_closes_a_ticket_from_the_inbox_page_and_the_crm_sees_it_closed(
    stack: Any, page: httpx.AsyncClient, make_request: Any, make_person: Any
) -> None:
    area = "Gerencia Técnica"
    request: TicketRequested = make_request(
        responsible=make_person("u-jperez", area), cc=[make_person("u-jefe", area)]
    )
    await stack.attentions.publish(request)

    async def inbox(user: str, closed: bool = False) -> str:
        params = {"user": user, **({"closed": "true"} if closed else {})}
        response = await page.get("/", params=params)
        assert response.status_code == 200
        return response.text

    # The page's own consumer brings the assignment in; the responsible person and the one in copy see it.
    html = await eventually(lambda: inbox("u-jperez"), lambda h: request.code in h, what="in the inbox")
    assert "Responsable" in html and "Asignado" in html and request.responsibility in html
    assert request.code in await inbox("u-jefe") and "En copia" in await inbox("u-jefe")
    assert request.code not in await inbox("u-otro")
    # The person picker offers both, by name.
    picker = f'<option value="u-jefe">{request.cc[0].name}</option>'
    assert picker in html and f'<option value="u-jperez">{request.responsible.name}</option>' in html

    ticket = str(request.ticket_id)
    accepted = await page.post(f"/tickets/{ticket}/accept", data={"user": "u-jperez"})
    assert accepted.status_code == 303 and "aceptado" in (await page.get(accepted.headers["location"])).text
    await eventually(
        stack.db.counter("SELECT status FROM tickets WHERE id = $1", request.ticket_id),
        lambda s: s == "accepted",
        what="accepted in the CRM",
    )

    # No resolution: refused on the page, nothing published (the CRM still has it accepted, sequence 1).
    refused = await page.post(f"/tickets/{ticket}/close", data={"user": "u-jperez", "text": "  "})
    assert refused.status_code == 422 and "Escriba la resolución" in refused.text

    closed = await page.post(
        f"/tickets/{ticket}/close", data={"user": "u-jperez", "text": "Medidor reemplazado y sellado."}
    )
    assert closed.status_code == 303
    await eventually(
        stack.db.counter("SELECT status FROM tickets WHERE id = $1", request.ticket_id),
        lambda s: s == "closed",
        what="closed in the CRM",
    )
    resolution = await stack.db.val(
        "SELECT note FROM ticket_transitions WHERE ticket_id = $1 AND to_status = 'closed'", request.ticket_id
    )
    assert resolution == "Medidor reemplazado y sellado."
    # The two changes went out with sequences 1 and 2, the refused one never did.
    sequences = await stack.db.val(
        "SELECT array_agg(sequence ORDER BY sequence) FROM ticket_transitions "
        "WHERE ticket_id = $1 AND comanda_event_id IS NOT NULL",
        request.ticket_id,
    )
    assert list(sequences) == [1, 2]

    # Closed tickets leave the open inbox; with "incluir cerrados" they show, offering only "Reabrir".
    assert request.code not in await inbox("u-jperez")
    html = await inbox("u-jperez", closed=True)
    assert request.code in html and "Cerrado" in html and "Reabrir" in html and ">Cerrar<" not in html

    again = await page.post(f"/tickets/{ticket}/close", data={"user": "u-jperez", "text": "otra vez"})
    assert again.status_code == 409 and "no permite pasar el ticket" in again.text
    unknown = await page.post("/tickets/TCK-0000-000000/accept", data={"user": "u-jperez"})
    assert unknown.status_code == 404
