"""PDF attachments of attentions and events.

Checked by content, never by name (domain.attachments: ``%PDF-`` and a page tree pypdf can read), under a
configurable size limit (ATTACHMENT_MAX_BYTES), stored with their SHA-256 in PostgreSQL (see docs), and
read only through the access check of their attention (client: access list or admin; suministro: staff).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any
from urllib.parse import quote

from crmkit.db import Connection
from crmkit.problems import Problem, not_found
from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response

from attentions.api.attentions import visible_attention
from attentions.api.deps import Context, StaffCtx
from attentions.api.events import visible_event
from attentions.domain import closure
from attentions.domain.attachments import check_pdf, safe_filename, too_large
from attentions.store import attachments as store
from attentions.store import audit

router = APIRouter(tags=["attachments"])
MULTIPART_OVERHEAD = 64 * 1024
PdfFile = Annotated[UploadFile, File(description="A PDF document (checked by content).")]


async def read_pdf(ctx: Context, request: Request, file: UploadFile) -> tuple[bytes, Any, str]:
    limit = ctx.settings.attachment_max_bytes
    content = await file.read(limit + 1)
    checked = await asyncio.to_thread(check_pdf, content, limit)
    return content, checked, safe_filename(file.filename)


def upload_fingerprint(content: bytes, filename: str) -> bytes:
    """What makes two uploads the same write (the multipart body is parsed already)."""
    return filename.encode() + b"\0" + content


def refuse_oversized(ctx: Context, request: Request) -> None:
    """Refuse before reading the body when its declared length is already over the limit."""
    declared = request.headers.get("content-length")
    limit = ctx.settings.attachment_max_bytes
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise too_large(int(declared), limit)


async def _save(
    ctx: Context,
    conn: Connection,
    owner_kind: str,
    owner_id: uuid.UUID,
    owner: dict[str, Any],
    event_id: uuid.UUID | None,
    upload: tuple[bytes, Any, str],
) -> dict[str, Any]:
    """Store a checked PDF under an attention or an event, and audit it on its owner."""
    content, checked, filename = upload
    saved = await store.insert(
        conn,
        attention_id=owner["attention_id"],
        event_id=event_id,
        filename=filename,
        size_bytes=checked.size_bytes,
        sha256=checked.sha256,
        pages=checked.pages,
        content=content,
        uploaded_by=ctx.user.user_id,
    )
    await audit.record(
        conn,
        owner_kind,
        owner_id,
        "attachment.added",
        ctx.user.user_id,
        None,
        saved,
        client_id=owner["client_id"],
        nic=owner["nic"],
    )
    return saved


@router.post("/attentions/{attention_id}/attachments", status_code=201)
async def attach_to_attention(
    ctx: StaffCtx, request: Request, attention_id: uuid.UUID, file: PdfFile
) -> Response:
    refuse_oversized(ctx, request)
    async with ctx.connection() as conn:
        await visible_attention(ctx, conn, attention_id)  # 404 before looking at the file
    content, checked, filename = await read_pdf(ctx, request, file)
    async with ctx.transaction() as conn:
        attention = await visible_attention(ctx, conn, attention_id, lock=True)
        if (replayed := await ctx.replay(conn, content=upload_fingerprint(content, filename))) is not None:
            return replayed
        closure.check_attention_open(attention["status"])
        saved = await _save(
            ctx, conn, "attention", attention_id, attention, None, (content, checked, filename)
        )
        return await ctx.answer(conn, 201, saved)


@router.get("/attentions/{attention_id}/attachments")
async def list_attention_attachments(ctx: StaffCtx, attention_id: uuid.UUID) -> list[dict[str, Any]]:
    async with ctx.connection() as conn:
        await visible_attention(ctx, conn, attention_id)
        return await store.for_attention(conn, attention_id)


@router.post("/events/{event_id}/attachments", status_code=201)
async def attach_to_event(ctx: StaffCtx, request: Request, event_id: uuid.UUID, file: PdfFile) -> Response:
    refuse_oversized(ctx, request)
    async with ctx.connection() as conn:
        await visible_event(ctx, conn, event_id)
    content, checked, filename = await read_pdf(ctx, request, file)
    async with ctx.transaction() as conn:
        event = await visible_event(ctx, conn, event_id, lock=True)
        if (replayed := await ctx.replay(conn, content=upload_fingerprint(content, filename))) is not None:
            return replayed
        closure.check_event_open(event["status"])
        saved = await _save(ctx, conn, "event", event_id, event, event_id, (content, checked, filename))
        return await ctx.answer(conn, 201, saved)


@router.get("/events/{event_id}/attachments")
async def list_event_attachments(ctx: StaffCtx, event_id: uuid.UUID) -> list[dict[str, Any]]:
    async with ctx.connection() as conn:
        await visible_event(ctx, conn, event_id)
        return await store.for_event(conn, event_id)


async def visible_attachment(ctx: Context, attachment_id: uuid.UUID) -> dict[str, Any]:
    async with ctx.connection() as conn:
        meta = await store.meta(conn, attachment_id)
        if meta is None:
            raise not_found("attachment")
        try:
            await visible_attention(ctx, conn, meta["attention_id"])
        except Problem:
            raise not_found("attachment") from None
    return meta


@router.get("/attachments/{attachment_id}")
async def get_attachment(ctx: StaffCtx, attachment_id: uuid.UUID) -> dict[str, Any]:
    return await visible_attachment(ctx, attachment_id)


@router.get("/attachments/{attachment_id}/content", response_class=Response)
async def download_attachment(ctx: StaffCtx, attachment_id: uuid.UUID) -> Response:
    meta = await visible_attachment(ctx, attachment_id)
    async with ctx.connection() as conn:
        content = await store.content(conn, attachment_id)
    if content is None:
        raise not_found("attachment")
    name = meta["filename"]
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
            "X-Content-SHA256": meta["sha256"],
            "ETag": f'"{meta["sha256"]}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
