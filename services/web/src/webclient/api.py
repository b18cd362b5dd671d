"""Calls to the services' HTTP APIs on behalf of the signed-in user (their bearer token), server-side.

Every call carries the request's correlation id as ``X-Request-ID`` (the header crmkit.http reads), so one
click can be followed through the gateway, the web client and each service's logs. Errors come back as
:class:`ApiError` holding the problem already put in Spanish (webclient.errors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from crmkit import context

from webclient.errors import UserError, explain
from webclient.settings import Settings


class ApiError(Exception):
    def __init__(self, error: UserError) -> None:
        super().__init__(error.message)
        self.error = error

    @property
    def status(self) -> int:
        return self.error.status

    def reraise_unless_form_error(self) -> None:
        """A form shows the API's refusal next to it, except an expired session (sign in again) and a
        thing that is gone or not visible any more ("No encontrado"): those go to the app's handlers."""
        if self.status in (401, 404):
            raise self


@dataclass
class Download:
    content: bytes
    media_type: str
    disposition: str | None


class Api:
    """One user's view of the APIs for one request."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings, token: str | None) -> None:
        self.http = http
        self.bases = {
            "attentions": settings.attentions_api_url.rstrip("/"),
            "tickets": settings.tickets_api_url.rstrip("/"),
            "reports": settings.reports_api_url.rstrip("/"),
        }
        self.token = token
        # The submitted form's key (see macros.csrf_field). One form may cause several writes (an attention
        # and its PDFs): each gets the key and its place in the sequence, the same on a resubmission.
        self.idempotency_key: str | None = None
        self._writes = 0

    def _headers(self) -> dict[str, str]:
        headers = {"X-Request-ID": str(context.current_correlation_id()), "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def request(self, method: str, service: str, path: str, **kwargs: Any) -> httpx.Response:
        url = self.bases[service] + path
        headers = self._headers()
        if method != "GET" and self.idempotency_key:
            headers["Idempotency-Key"] = f"web-{self.idempotency_key}-{self._writes}"
            self._writes += 1
        try:
            response = await self.http.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise ApiError(explain(504, None)) from None
        except httpx.HTTPError:
            raise ApiError(explain(503, None)) from None
        if response.status_code >= 400:
            problem: dict[str, Any] | None = None
            if "json" in response.headers.get("content-type", ""):
                try:
                    body = response.json()
                    problem = body if isinstance(body, dict) else None
                except ValueError:
                    problem = None
            raise ApiError(explain(response.status_code, problem, response.headers.get("x-request-id")))
        return response

    async def get(self, service: str, path: str, params: dict[str, Any] | None = None) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        return (await self.request("GET", service, path, params=clean)).json()

    async def post(self, service: str, path: str, body: Any = None) -> Any:
        response = await self.request("POST", service, path, json=body)
        return response.json() if response.content else None

    async def delete(self, service: str, path: str) -> Any:
        response = await self.request("DELETE", service, path)
        return response.json() if response.content else None

    async def upload(self, service: str, path: str, filename: str, content: bytes) -> Any:
        files = {"file": (filename, content, "application/pdf")}
        return (await self.request("POST", service, path, files=files)).json()

    async def download(self, service: str, path: str, params: dict[str, Any] | None = None) -> Download:
        response = await self.request("GET", service, path, params=params)
        return Download(
            response.content,
            response.headers.get("content-type", "application/octet-stream"),
            response.headers.get("content-disposition"),
        )
