"""PDF attachments: checked by content, limited in size, stored with a checksum, downloaded with access."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from atn_support import (
    create_attention,
    create_client,
    create_event,
    pdf_bytes,
    problem,
    rules,
    seed_supply_point,
)

pytestmark = pytest.mark.integration


def pdf_file(content: bytes, name: str = "carta.pdf", content_type: str = "application/pdf") -> dict:
    return {"file": (name, content, content_type)}


async def test_a_pdf_is_stored_with_its_checksum_and_downloaded_intact(service):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    attention = await create_attention(ana, client["client_id"])
    content = pdf_bytes(padding=2000)
    response = await ana.post(
        f"/attentions/{attention['attention_id']}/attachments",
        files=pdf_file(content, "C:\\Documentos\\Carta alcaldía.pdf", "application/octet-stream"),
    )
    assert response.status_code == 201, response.text
    saved = response.json()
    assert saved["sha256"] == hashlib.sha256(content).hexdigest() and saved["size_bytes"] == len(content)
    assert (saved["filename"], saved["pages"], saved["content_type"]) == (
        "Carta alcaldía.pdf",
        1,
        "application/pdf",
    )

    download = await ana.get(f"/attachments/{saved['attachment_id']}/content")
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-sha256"] == saved["sha256"]
    assert "filename*=UTF-8''Carta%20alcald%C3%ADa.pdf" in download.headers["content-disposition"]
    detail = (await ana.get(f"/attentions/{attention['attention_id']}")).json()
    assert [a["attachment_id"] for a in detail["attachments"]] == [saved["attachment_id"]]
    entries = (await ana.get(f"/audit/attention/{attention['attention_id']}")).json()["entries"]
    assert entries[-1]["action"] == "attachment.added" and entries[-1]["after"]["sha256"] == saved["sha256"]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (pdf_file(b"GIF89a" + b"\0" * 200, "carta.pdf"), {("file", "pdf_content")}),
        (
            pdf_file(b"%PDF-1.4\n% only a header, no objects, no xref\n", "carta.pdf"),
            {("file", "pdf_content")},
        ),
        (pdf_file(b"", "vacio.pdf"), {("file", "not_empty")}),
        ({"document": ("carta.pdf", pdf_bytes(), "application/pdf")}, {("file", "missing")}),
    ],
    ids=["gif-named-pdf", "magic-but-unreadable", "empty", "no-file-field"],
)
async def test_files_that_are_not_pdfs_are_refused_and_nothing_is_written(service, files, expected):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    attention = await create_attention(ana, client["client_id"])
    before = await service.counts()
    response = await ana.post(f"/attentions/{attention['attention_id']}/attachments", files=files)
    assert rules(problem(response, 422)) == expected
    assert await service.counts() == before


async def test_oversized_files_are_refused_whatever_the_declared_length(service_with):
    service = await service_with(attachment_max_bytes=4096)
    ana = service.as_("u-ana")
    client = await create_client(ana)
    attention = await create_attention(ana, client["client_id"])
    url = f"/attentions/{attention['attention_id']}/attachments"
    before = await service.counts()
    body = problem(await ana.post(url, files=pdf_file(pdf_bytes(padding=5000))), 413)
    assert rules(body) == {("file", "max_size")} and body["errors"][0]["max_bytes"] == 4096
    body = problem(await ana.post(url, files=pdf_file(pdf_bytes(padding=200_000))), 413)
    assert rules(body) == {("file", "max_size")}
    assert await service.counts() == before
    assert (await ana.post(url, files=pdf_file(pdf_bytes(padding=3000)))).status_code == 201


async def test_attachments_go_on_open_attentions_and_events_only(service):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    attention = await create_attention(ana, client["client_id"])
    event = await create_event(ana, attention["attention_id"])
    response = await ana.post(
        f"/events/{event['event_id']}/attachments", files=pdf_file(pdf_bytes(), "plan.pdf")
    )
    assert response.status_code == 201, response.text
    assert response.json()["event_id"] == event["event_id"]
    assert [a["filename"] for a in (await ana.get(f"/events/{event['event_id']}")).json()["attachments"]] == [
        "plan.pdf"
    ]
    assert [a["filename"] for a in (await ana.get(f"/events/{event['event_id']}/attachments")).json()] == [
        "plan.pdf"
    ]
    # the attention's own list does not mix in the event's files
    assert (await ana.get(f"/attentions/{attention['attention_id']}/attachments")).json() == []

    await ana.post(f"/events/{event['event_id']}/close", json={})
    await ana.post(f"/attentions/{attention['attention_id']}/close", json={"note": "fin"})
    before = await service.counts()
    response = await ana.post(f"/events/{event['event_id']}/attachments", files=pdf_file(pdf_bytes()))
    assert rules(problem(response, 409)) == {("event_id", "event_closed")}
    response = await ana.post(
        f"/attentions/{attention['attention_id']}/attachments", files=pdf_file(pdf_bytes())
    )
    assert rules(problem(response, 409)) == {("attention_id", "attention_closed")}
    assert await service.counts() == before
    assert problem(
        await ana.post(f"/attentions/{uuid.uuid4()}/attachments", files=pdf_file(pdf_bytes())), 404
    )
    assert problem(await ana.get(f"/attachments/{uuid.uuid4()}/content"), 404)


async def test_suministro_attachments_are_downloadable_by_any_staff(service):
    await seed_supply_point(service, "3012345")
    attention = (
        await service.as_("u-ana").post(
            "/supply-points/3012345/attentions",
            json={
                "channel": "letter",
                "subject": "Carta",
                "happened_at": "2026-03-01T08:00:00Z",
            },
        )
    ).json()
    saved = (
        await service.as_("u-ana").post(
            f"/attentions/{attention['attention_id']}/attachments", files=pdf_file(pdf_bytes())
        )
    ).json()
    download = await service.as_("u-beto").get(f"/attachments/{saved['attachment_id']}/content")
    assert download.status_code == 200 and download.content == pdf_bytes()
