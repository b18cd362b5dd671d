"""The COMANDA simulator's command line, as a person uses it in a demo: inbox, accept, close."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from crm_contracts.events.tickets import TicketRequested
from eventually import eventually

pytestmark = pytest.mark.integration


async def sim(stack: Any, state: Path, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": stack.settings.kafka_bootstrap_servers,
        "TOPIC_PREFIX": stack.settings.topic_prefix,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tickets.comanda_sim",
        "--state",
        str(state),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_person_sees_the_ticket_in_the_inbox_accepts_and_closes_it(
    stack: Any, make_request: Any, make_person: Any, tmp_path: Path
) -> None:
    request: TicketRequested = make_request(responsible=make_person("u-jperez", "Gerencia Técnica"))
    await stack.attentions.publish(request)
    state = tmp_path / "comanda.db"

    code, out, _ = await sim(stack, state, "inbox", "--user", "u-jperez")
    assert code == 0 and request.code in out and "assigned" in out

    code, out, _ = await sim(stack, state, "accept", request.code)
    accepted = json.loads(out)["published"]
    assert code == 0 and accepted["producer"] == "comanda" and accepted["data"]["sequence"] == 1

    code, out, _ = await sim(stack, state, "close", request.code, "--resolution", "Medidor reemplazado")
    closed = json.loads(out)["published"]
    assert closed["data"]["sequence"] == 2 and closed["partition_key"] == str(request.ticket_id)
    assert closed["data"]["comanda_event_id"] != accepted["data"]["comanda_event_id"]

    await eventually(
        stack.db.counter("SELECT status FROM tickets WHERE id = $1", request.ticket_id),
        lambda s: s == "closed",
        what="closed in the CRM",
    )
    code, out, _ = await sim(stack, state, "inbox", "--user", "u-jperez", "--all", "--json")
    [line] = [json.loads(x) for x in out.splitlines()]
    assert (line["code"], line["status"], line["sequence"], line["role"]) == (
        request.code,
        "closed",
        2,
        "responsible",
    )

    code, _, err = await sim(stack, state, "close", request.code, "--resolution", "otra vez")
    assert code == 2 and "cannot mark a ticket that is closed" in err
