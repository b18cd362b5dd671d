"""What every page handler needs: the user, their API client, the CSRF check, rendering and redirects."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData, UploadFile

from webclient import labels
from webclient.api import Api, ApiError
from webclient.errors import UserError
from webclient.session import User, csrf_ok, csrf_token, current_user
from webclient.settings import Settings

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

NOTICES = {
    "cliente": "Cliente creado.",
    "acceso": "Usuario agregado a la lista de acceso.",
    "acceso-quitado": "Usuario quitado de la lista de acceso.",
    "contacto": "Contacto agregado.",
    "atencion": "Atención registrada.",
    "evento": "Evento creado.",
    "ticket": "Ticket creado: se asignará al responsable y se enviará a COMANDA.",
    "cerrada": "Atención cerrada.",
    "cerrado": "Evento cerrado.",
    "adjunto": "Adjunto agregado.",
    "orden": "Orden técnica creada.",
    "orden-actualizada": "Orden técnica actualizada.",
}


class LoginRequired(Exception):
    """No (valid) session: the page redirects to the sign-in page."""


class CsrfRejected(Exception):
    pass


class NotFound(Exception):
    """A page that does not exist, or that the user may not see: the same "no encontrado" page."""


@dataclass
class PdfUpload:
    filename: str
    content: bytes


class Page:
    """One request of a signed-in user."""

    def __init__(self, request: Request, settings: Settings, user: User) -> None:
        self.request = request
        self.settings = settings
        self.user = user
        self.api = Api(request.app.state.http, settings, user.token)

    @property
    def csrf(self) -> str:
        return csrf_token(self.settings, self.user.token)

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.settings.timezone)).date()

    async def form(self) -> FormData:
        """The submitted form, after checking its CSRF token."""
        form = await self.request.form()
        submitted = form.get("csrf")
        if not csrf_ok(self.settings, self.user.token, submitted if isinstance(submitted, str) else None):
            raise CsrfRejected()
        key = form.get("idempotency_key")
        if isinstance(key, str) and key:
            self.api.idempotency_key = key
        return form

    def render(
        self, template: str, status_code: int = 200, error: UserError | None = None, **values: Any
    ) -> HTMLResponse:
        notice = NOTICES.get(self.request.query_params.get("aviso", ""))
        return TEMPLATES.TemplateResponse(
            self.request,
            template,
            {
                "user": self.user,
                "csrf": self.csrf,
                "today": self.today(),
                "notice": notice,
                "error": error,
                "settings": self.settings,
                **values,
            },
            status_code=status_code if error is None else error.status,
        )

    def urgency(self, due: object, is_open: bool) -> str:
        return labels.urgency(due, is_open, self.today(), self.settings.due_soon_days)

    def paging(self) -> tuple[int, int]:
        """(limit, offset) from ?pagina=N."""
        try:
            number = max(1, min(int(self.request.query_params.get("pagina", "1")), 10_000))
        except ValueError:
            number = 1
        size = self.settings.page_size
        return size, (number - 1) * size

    def pager(self, data: dict[str, Any]) -> dict[str, Any]:
        """Links to the previous and next pages, keeping every other filter of the query string."""
        limit = int(data.get("limit") or self.settings.page_size)
        offset = int(data.get("offset") or 0)
        total = int(data.get("total") or 0)
        number = offset // limit + 1
        pages = max(1, math.ceil(total / limit))
        params = {k: v for k, v in self.request.query_params.items() if k not in ("pagina", "aviso")}

        def link(n: int) -> str:
            return "?" + urlencode({**params, "pagina": n})

        return {
            "number": number,
            "pages": pages,
            "total": total,
            "prev": link(number - 1) if number > 1 else None,
            "next": link(number + 1) if number < pages else None,
        }

    async def pdfs(self, form: FormData, name: str = "files") -> list[PdfUpload]:
        """The PDF files chosen in a form (empty file inputs are skipped); the service checks the content."""
        uploads = []
        for item in form.getlist(name):
            if isinstance(item, UploadFile) and item.filename:
                content = await item.read()
                if content:
                    uploads.append(PdfUpload(item.filename, content))
        return uploads

    async def upload_all(self, path: str, files: list[PdfUpload]) -> UserError | None:
        """Attach each PDF; the first refused one is reported (those before it are kept)."""
        for f in files:
            try:
                await self.api.upload("attentions", path, f.filename, f.content)
            except ApiError as exc:
                exc.error.message = f"{f.filename}: {exc.error.message}"
                return exc.error
        return None


def page(request: Request) -> Page:
    """FastAPI dependency: the signed-in user's page context, or a redirect to the sign-in page."""
    settings: Settings = request.app.state.settings
    user = current_user(request, settings)
    if user is None:
        raise LoginRequired()
    return Page(request, settings, user)


def redirect(path: str, notice: str | None = None, **params: Any) -> RedirectResponse:
    query = {k: v for k, v in params.items() if v not in (None, "")}
    if notice:
        query["aviso"] = notice
    return RedirectResponse(path + ("?" + urlencode(query) if query else ""), status_code=303)


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def values(form: FormData) -> dict[str, Any]:
    """The form's text fields, to fill the form again after an error."""
    return {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf"}


def file_response(content: bytes, media_type: str, disposition: str | None) -> Response:
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    if disposition:
        headers["Content-Disposition"] = disposition
    return Response(content, media_type=media_type, headers=headers)
