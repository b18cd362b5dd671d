"""Every route answers bad input with a problem naming what was wrong, never a 500."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from atn_support import create_attention, create_client, create_event

pytestmark = pytest.mark.integration

BODIES: list[Any] = [
    None,
    {},
    {"unexpected": 1},
    [],
    "not json",
    {"name": None, "kind": None, "title": None, "note": None},
]


async def test_every_route_answers_garbage_with_a_problem_not_a_500(service):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    attention = await create_attention(ana, client["client_id"])
    event = await create_event(ana, attention["attention_id"])
    real = {
        "client_id": client["client_id"],
        "attention_id": attention["attention_id"],
        "event_id": event["event_id"],
    }
    assert service.runtime.api is not None
    paths = service.runtime.api.openapi()["paths"]  # every documented route (the chassis' are not)
    routes = [
        (path, method.upper())
        for path, item in paths.items()
        for method in item
        if not path.startswith("/dev")
    ]
    junk_query = {k: "a\x00" for k in ("q", "nic", "holder", "address", "area", "role", "registered_by")}
    checked = 0
    for route_path, method in routes:
        for fill in ("real", "random", "junk"):

            def value(name: str, fill: str = fill) -> str:
                if fill == "real" and name in real:
                    return real[name]
                return "%00junk" if fill == "junk" else str(uuid.uuid4())

            path = re.sub(r"\{(\w+)\}", lambda m: value(m.group(1)), route_path)
            attempts: list[dict] = [{"content": b} if isinstance(b, str) else {"json": b} for b in BODIES]
            if method == "GET":
                attempts.append({"params": junk_query})
            for kwargs in attempts:
                response = await service.admin.request(method, path, **kwargs)
                assert response.status_code < 500, (method, path, kwargs, response.text)
                if response.status_code >= 400:
                    assert response.headers["content-type"].startswith("application/problem+json"), path
                checked += 1
    assert checked > 500
