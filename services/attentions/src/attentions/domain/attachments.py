"""What an attachment must be: a real PDF (by content, never by name), not empty, within the size limit."""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass

from attentions.domain.errors import RuleBroken

PDF_MAGIC = b"%PDF-"
logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True)
class CheckedPdf:
    size_bytes: int
    sha256: str
    pages: int


def too_large(size: int, max_bytes: int) -> RuleBroken:
    return RuleBroken.one(
        "file",
        "max_size",
        f"the file is larger than the limit of {max_bytes} bytes",
        kind="too_large",
        max_bytes=max_bytes,
        size_bytes=size,
    )


def check_pdf(content: bytes, max_bytes: int) -> CheckedPdf:
    """The file starts with ``%PDF-`` and pypdf can read its page tree; else a 422 naming ``file``."""
    if not content:
        raise RuleBroken.one("file", "not_empty", "the file is empty")
    if len(content) > max_bytes:
        raise too_large(len(content), max_bytes)
    if not content.startswith(PDF_MAGIC):
        raise RuleBroken.one("file", "pdf_content", "the file is not a PDF (it does not start with %PDF-)")
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(content), strict=False)
        pages = len(reader.pages)
    except Exception as exc:  # pypdf raises many types for broken files
        raise RuleBroken.one(
            "file", "pdf_content", f"the file is not a readable PDF ({type(exc).__name__})"
        ) from exc
    if pages < 1:
        raise RuleBroken.one("file", "pdf_content", "the PDF has no pages")
    return CheckedPdf(size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest(), pages=pages)


def safe_filename(name: str | None) -> str:
    """Keep the last path part, printable characters only; the name is metadata, never trusted."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|:*?').strip()
    return cleaned[:200] or "document.pdf"
