"""SQL metacharacters in every text field and filter, and hostile uploads.

- Text with ``'``, ``"``, ``;``, ``--``, ``%``, ``_`` and ``\\`` written through the attentions API is
  stored and read back verbatim, travels verbatim to the tickets and notifications services (ticket
  responsibility, email subject), and the same in the work orders of the tickets service.
- Searches treat them literally: ``q=%`` finds only what contains a literal ``%``, ``q=_`` a literal
  ``_``, ``q=\\`` a literal backslash; exact filters with metacharacters simply match nothing. Never a 5xx.
- A NUL byte is refused with a 422 problem wherever text goes in (it cannot be stored).
- Uploads: content that is not a PDF whatever its name, PDF polyglots, an empty file, oversized files and
  path-traversal file names are refused or neutralized, and nothing is written for a refused one.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from email.message import Message

import httpx
import pytest
from eventually import eventually
from system.fuzz_support import System, pdf_bytes, running_system, seed_world

pytestmark = pytest.mark.integration

METACHARACTERS = [
    "O'Brien & Hijos",
    'Dijo "basta"',
    "x'; DROP TABLE clients; --",
    "x' OR '1'='1",
    "100% seguro",
    "a_b",
    "C:\\ruta\\archivo",
    "$1 $$ ? :name",
]


@pytest.fixture(scope="module")
async def system(infra) -> AsyncIterator[System]:
    async with running_system(infra) as system:
        await seed_world(system)
        yield system


def no_server_error(response: httpx.Response) -> httpx.Response:
    assert response.status_code < 500, (response.request.method, response.request.url, response.text)
    return response


async def test_text_with_sql_metacharacters_is_stored_verbatim_across_services(system: System) -> None:
    ana = system.as_("attentions", "u-ana")
    today = date.today()
    for text in METACHARACTERS:
        client = no_server_error(
            await ana.post(
                "/clients",
                json={"kind": "prospect", "name": text, "sector": text, "address": text, "tax_id": text[:40]},
            )
        ).json()
        cid = client["client_id"]
        got = (await ana.get(f"/clients/{cid}")).json()
        assert (got["name"], got["sector"], got["address"]) == (text, text, text)
        contact = no_server_error(
            await ana.post(
                f"/clients/{cid}/contacts", json={"name": text, "position": text, "phone": text[:40]}
            )
        ).json()
        assert contact["name"] == text and contact["position"] == text
        attention = no_server_error(
            await ana.post(
                f"/clients/{cid}/attentions",
                json={
                    "channel": "email",
                    "subject": text,
                    "description": text,
                    "happened_at": "2026-03-02T10:00:00-06:00",
                    "contact_names": [text],
                },
            )
        ).json()
        aid = attention["attention_id"]
        got = (await ana.get(f"/attentions/{aid}")).json()
        assert (got["subject"], got["description"]) == (text, text)
        event = no_server_error(
            await ana.post(
                f"/attentions/{aid}/events",
                json={
                    "title": text,
                    "description": text,
                    "internal_commitment_date": str(today + timedelta(days=20)),
                    "client_commitment_date": str(today + timedelta(days=30)),
                },
            )
        ).json()
        assert (await ana.get(f"/events/{event['event_id']}")).json()["title"] == text
        ticket = no_server_error(
            await ana.post(
                f"/events/{event['event_id']}/tickets",
                json={
                    "responsibility": text,
                    "due_date": str(today + timedelta(days=10)),
                    "responsible_id": "u-carla",
                },
            )
        ).json()

        # The same text, verbatim, in the tickets service and in the email of the notifications service.
        carla = system.as_("tickets", "u-carla")

        async def materialized(
            ticket_id: str = ticket["ticket_id"], http: httpx.AsyncClient = carla
        ) -> httpx.Response:
            return await http.get(f"/tickets/{ticket_id}")

        seen = await eventually(materialized, lambda r: r.status_code == 200, what="ticket materialized")
        assert seen.json()["responsibility"] == text
        order = no_server_error(
            await carla.post(
                "/work-orders",
                json={
                    "ticket_id": ticket["ticket_id"],
                    "work_type": "inspection",
                    "address": text,
                    "description": text,
                    "crew_notes": text,
                    "requested_date": str(today + timedelta(days=5)),
                },
            )
        ).json()
        assert (order["address"], order["description"], order["crew_notes"]) == (text, text, text)

        async def emails(ticket_id: str = ticket["ticket_id"]) -> list[dict]:
            answer = await system.as_("notifications", "u-carla").get(f"/tickets/{ticket_id}/messages")
            return list(answer.json()["items"])

        messages = await eventually(emails, bool, what="assignment email recorded")
        assert messages[0]["recipient"]["user_id"] == "u-carla"


async def test_searches_treat_like_wildcards_and_quotes_literally(system: System) -> None:
    admin = system.as_("attentions", "u-admin")
    names = {
        "literal-percent": "Tienda 50% Off",
        "literal-underscore": "Taller_Norte",
        "plain": "Tienda 50 Off",
    }
    names["backslash"] = "Bodega \\ Central"
    names["injection"] = "x' OR '1'='1"
    for name in names.values():
        created = await admin.post("/clients", json={"kind": "prospect", "name": name})
        assert created.status_code == 201, created.text
        for subject in ("100% seguro", "a_b"):
            attention = await admin.post(
                f"/clients/{created.json()['client_id']}/attentions",
                json={"channel": "web", "subject": subject, "happened_at": "2026-03-02T10:00:00Z"},
            )
            assert attention.status_code == 201, attention.text

    async def client_names(q: str) -> set[str]:
        response = no_server_error(await admin.get("/clients", params={"q": q, "limit": 200}))
        return {c["name"] for c in response.json()["items"]}

    assert all("%" in n for n in await client_names("%")) and names["literal-percent"] in await client_names(
        "%"
    )
    assert names["plain"] not in await client_names("50%")
    assert all("_" in n for n in await client_names("_")) and names[
        "literal-underscore"
    ] in await client_names("_")
    assert names["backslash"] in await client_names("\\") and all("\\" in n for n in await client_names("\\"))
    injected = await client_names("' OR '1'='1")  # what matches is what contains it, nothing more
    assert injected and all("' OR '1'='1" in n for n in injected)

    for q in ["%", "_", "\\", "'", '"', ";", "--", "%_%", "\\%"]:
        for path, params in (
            ("/staff", {"q": q}),
            ("/staff", {"area": q, "role": q}),
            ("/supply-points", {"q": q}),
            ("/supply-points", {"holder": q, "address": q, "nic": q}),
            ("/attentions", {"registered_by": q, "nic": q}),
        ):
            no_server_error(await admin.get(path, params=params))
        # What a search finds contains the text literally (codes never hold these characters).
        for path, field in (("/attentions", "subject"), ("/events", "title")):
            items = no_server_error(await admin.get(path, params={"q": q, "limit": 200})).json()["items"]
            assert all(q in item[field] for item in items), (path, q, [i[field] for i in items])
        for service, path, params in (
            ("tickets", "/tickets", {"responsible": q, "area": q, "nic": q, "code": q}),
            ("tickets", "/work-orders", {"area": q}),
            ("notifications", "/messages", {"recipient_id": q}),
        ):
            page = no_server_error(await system.as_(service, "u-admin").get(path, params=params)).json()
            assert page["items"] == [], (service, path, q)
        period = {"from": str(date.today() - timedelta(days=30)), "to": str(date.today())}
        report = await system.as_("reports", "u-admin").get("/reports/subject", params={"nic": q, **period})
        assert report.status_code == 404, (q, report.text)  # no suministro has that NIC
    # The literal searches find the subjects that hold the character.
    for q, expected in (("%", "100% seguro"), ("_", "a_b")):
        subjects = {a["subject"] for a in (await admin.get("/attentions", params={"q": q})).json()["items"]}
        assert expected in subjects, (q, subjects)

    # A search for a wildcard on the staff directory finds only literal matches (nobody has a % in it).
    assert (await admin.get("/staff", params={"q": "%"})).json()["items"] == []


async def test_nul_bytes_are_refused_as_problems_wherever_text_goes_in(system: System) -> None:
    ids = system.ids
    ana = system.as_("attentions", "u-ana")
    writes = [
        ("POST", "/clients", {"kind": "prospect", "name": "a\x00b"}),
        ("PATCH", f"/clients/{ids['client_id']}", {"sector": "a\x00b"}),
        ("POST", f"/clients/{ids['client_id']}/contacts", {"name": "a\x00b"}),
        (
            "POST",
            f"/clients/{ids['client_id']}/attentions",
            {"channel": "web", "subject": "a\x00b", "happened_at": "2026-03-02T10:00:00Z"},
        ),
    ]
    for method, path, body in writes:
        response = await ana.request(method, path, json=body)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    for service, path, params in (
        ("attentions", "/clients", {"q": "a\x00b"}),
        ("attentions", "/attentions", {"q": "a\x00b"}),
        ("tickets", "/tickets", {"responsible": "a\x00b"}),
        ("notifications", "/messages", {"recipient_id": "a\x00b"}),
    ):
        response = await system.as_(service, "u-admin").get(path, params=params)
        assert response.status_code in (200, 422), (service, path, response.text)
        if response.status_code == 200:
            assert response.json()["items"] == []
    order = await system.as_("tickets", "u-carla").patch(
        f"/work-orders/{ids['order_id']}", json={"description": "a\x00b"}
    )
    assert order.status_code == 422, order.text


# -- uploads ---------------------------------------------------------------------------------------------


def polyglot_html() -> bytes:
    """Starts like a PDF, but is an HTML page with a script after the header (no PDF structure)."""
    return b"%PDF-1.4\n<html><script>alert(document.cookie)</script></html>\n%%EOF\n"


def pdf_with_zip_appended() -> bytes:
    """A real PDF followed by a ZIP archive (a GIFAR-style polyglot): still a readable PDF."""
    return pdf_bytes() + b"PK\x03\x04" + b"\x00" * 26 + b"evil.exe" + b"MZ" + b"\x00" * 64


async def count_attachments(system: System) -> int:
    return int(await system.fetchval("attentions", "SELECT count(*) FROM attachments"))


@pytest.mark.parametrize(
    ("filename", "content", "status"),
    [
        ("carta.pdf", b"MZ\x90\x00" + b"\x00" * 200, 422),  # a Windows executable named .pdf
        ("carta.pdf", b"<html><script>alert(1)</script></html>", 422),
        ("carta.pdf", polyglot_html(), 422),
        ("carta.pdf", b"", 422),
        ("carta.pdf", b"%PDF-1.7\n" + b"A" * (70 * 1024), 413),  # over the 64 KiB limit of these tests
        ("carta.pdf", b"%PDF-1.4\n1 0 obj<</Length 99999999>>stream\n", 422),  # truncated, lying lengths
    ],
    ids=[
        "exe-named-pdf",
        "html-named-pdf",
        "pdf-header-html-polyglot",
        "zero-bytes",
        "oversized",
        "truncated",
    ],
)
async def test_hostile_uploads_are_refused_and_nothing_is_written(
    system: System, filename: str, content: bytes, status: int
) -> None:
    ana = system.as_("attentions", "u-ana")
    before = await count_attachments(system)
    response = await ana.post(
        f"/attentions/{system.ids['attention_id']}/attachments",
        files={"file": (filename, content, "application/pdf")},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await count_attachments(system) == before


@pytest.mark.parametrize(
    "filename",
    [
        "../../../../etc/passwd.pdf",
        "..\\..\\windows\\system32\\carta.pdf",
        "/var/lib/postgresql/carta.pdf",
        "carta\x00.exe.pdf",
        "carta.pdf\r\nContent-Type: text/html",
        '"; filename="evil.html',
        "%2e%2e%2fcarta.pdf",
        "x" * 1000 + ".pdf",
    ],
)
async def test_path_traversal_and_header_injection_in_file_names_are_neutralized(
    system: System, filename: str
) -> None:
    ana = system.as_("attentions", "u-ana")
    response = await ana.post(
        f"/attentions/{system.ids['attention_id']}/attachments",
        files={"file": (filename, pdf_bytes(), "application/pdf")},
    )
    assert response.status_code in (201, 422), response.text
    if response.status_code == 422:
        return
    saved = response.json()
    stored = saved["filename"]
    assert "/" not in stored and "\\" not in stored and "\x00" not in stored and "\r" not in stored
    assert "\n" not in stored and not stored.startswith("..")
    download = await ana.get(f"/attachments/{saved['attachment_id']}/content")
    assert download.status_code == 200 and download.content == pdf_bytes()
    assert download.headers["content-type"] == "application/pdf"
    # One Content-Disposition, an attachment or inline, naming no second file: no header injection.
    disposition = download.headers.get_list("content-disposition")
    assert len(disposition) == 1 and "\r" not in disposition[0] and "\n" not in disposition[0], disposition
    header = Message()
    header["content-disposition"] = disposition[0]
    names = [name for name, _ in header.get_params(header="content-disposition") or []]
    # filename and filename* (both read as "filename"), both naming the stored name and nothing else
    assert names.count("filename") <= 2 and header.get_filename() == stored, (disposition, stored)


async def test_a_pdf_polyglot_that_is_a_readable_pdf_is_served_only_as_a_download(system: System) -> None:
    """A readable PDF with an archive appended is a PDF: kept byte for byte, served as application/pdf."""
    ana = system.as_("attentions", "u-ana")
    content = pdf_with_zip_appended()
    response = await ana.post(
        f"/attentions/{system.ids['attention_id']}/attachments",
        files={"file": ("plano.pdf", content, "application/zip")},
    )
    if response.status_code == 422:
        return  # refusing it is as safe
    assert response.status_code == 201, response.text
    saved = response.json()
    assert saved["content_type"] == "application/pdf"
    download = await ana.get(f"/attachments/{saved['attachment_id']}/content")
    assert download.content == content and download.headers["content-type"] == "application/pdf"
    assert uuid.UUID(saved["attachment_id"])
