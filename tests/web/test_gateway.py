"""The nginx gateway of the local stack: routes with the prefix stripped, request ids passed through or
made up (one answer header), and the body limit matching the attachment limit."""

from __future__ import annotations

import re

import httpx
import pytest
from web.webstack import RunningStack

pytestmark = pytest.mark.integration


def test_api_prefix_is_stripped_and_everything_else_reaches_the_web_client(web_stack: RunningStack) -> None:
    # The service sees /clients/..., as its problem's `instance` says.
    problem = httpx.get(f"{web_stack.url}/api/attentions/clients/not-a-uuid", timeout=10)
    assert problem.status_code in (401, 422)
    assert problem.json()["instance"] == "/clients/not-a-uuid"
    assert httpx.get(f"{web_stack.url}/api/tickets/openapi.json", timeout=10).json()["paths"]["/tickets"]
    login = httpx.get(f"{web_stack.url}/login", timeout=10)
    assert login.status_code == 200 and "<h1>Ingresar</h1>" in login.text


def test_request_id_is_passed_through_or_made_up_once(web_stack: RunningStack) -> None:
    given = httpx.get(f"{web_stack.url}/api/attentions/healthz", headers={"X-Request-ID": "rid-abc-123"})
    assert given.headers.get_list("x-request-id") == ["rid-abc-123"]
    made = httpx.get(f"{web_stack.url}/api/attentions/healthz")
    ids = made.headers.get_list("x-request-id")
    assert len(ids) == 1 and re.fullmatch(r"[0-9a-f]{32}", ids[0])


def test_bodies_over_the_attachment_limit_stop_at_the_gateway(web_stack: RunningStack) -> None:
    url = f"{web_stack.url}/api/attentions/attentions/00000000-0000-0000-0000-000000000000/attachments"
    too_big = httpx.post(url, content=b"%PDF-" + b"0" * (12 * 1024 * 1024), timeout=30)
    assert too_big.status_code == 413  # nginx's client_max_body_size
    at_limit = httpx.post(url, content=b"%PDF-" + b"0" * (10 * 1024 * 1024), timeout=30)
    assert at_limit.status_code == 401  # reached the service, which wants a token first
    assert at_limit.headers["content-type"] == "application/problem+json"
