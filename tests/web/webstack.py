"""The running local stack the browser tests drive, and what they need from it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from stack.test_local_stack import (
    BROKER_PORT,
    GATEWAY_PORT,
    MAIL_WEB_PORT,
    SERVICES,
    _wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack.py"
SCREENSHOTS = ROOT / "var" / "test" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
READY_TIMEOUT_S = 120.0


@dataclass
class RunningStack:
    offset: int
    state: Path
    log: Path | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{GATEWAY_PORT + self.offset}"

    @property
    def mail_api(self) -> str:
        return f"http://127.0.0.1:{MAIL_WEB_PORT + self.offset}"

    @property
    def broker(self) -> str:
        return f"127.0.0.1:{BROKER_PORT + self.offset}"

    def output(self, last: int = 60) -> str:
        if self.log is None:
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-last:])

    def comanda(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The COMANDA simulator's command line against this stack's broker and inbox."""
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.broker}
        env.pop("TOPIC_PREFIX", None)
        command = [
            sys.executable,
            "-m",
            "tickets.comanda_sim",
            "--state",
            str(self.state / "comanda-sim.db"),
            *args,
        ]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)


def _ready(stack: RunningStack) -> bool:
    try:
        return (
            httpx.get(f"{stack.url}/readyz", timeout=2).status_code == 200
            and all(
                httpx.get(f"{stack.url}/api/{name}/readyz", timeout=2).status_code == 200 for name in SERVICES
            )
            and httpx.get(f"{stack.mail_api}/messages/", timeout=2).status_code == 200
        )
    except httpx.HTTPError:
        return False


def sample_pdf(title: str) -> bytes:
    """A real one-page PDF (the attentions service checks the content, not the name)."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.drawString(72, 720, title)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


DESKTOP = {"width": 1366, "height": 768}
TABLET = {"width": 768, "height": 1024}


def sign_in(browser: Any, stack: RunningStack, user_id: str, viewport: dict[str, int] = DESKTOP) -> Any:
    context = browser.new_context(viewport=viewport, locale="es-SV", accept_downloads=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{stack.url}/")
    assert "/login" in page.url
    page.select_option("#user_id", user_id)
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_url(f"{stack.url}/")
    return page


def menu(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Menú principal").get_by_role("link", name=name, exact=True).click()


def shot(page: Any, folder: Path, name: str, tablet: bool = True) -> None:
    page.screenshot(path=str(folder / f"{name}-1366x768.png"), full_page=True)
    if tablet:
        size = page.viewport_size
        page.set_viewport_size(TABLET)
        page.screenshot(path=str(folder / f"{name}-tablet.png"), full_page=True)
        page.set_viewport_size(size)


def reload_until(page: Any, check: Any, what: str, timeout: float = 60) -> None:
    from playwright.sync_api import Error as PlaywrightError

    def probe() -> bool:
        try:
            page.reload()
            return bool(check())
        except PlaywrightError as exc:
            # Chromium answers a reload that meets a navigation still being committed with "Not attached
            # to an active page" (seen once in CI); the next probe reloads again.
            print(f"reload_until({what}): {exc.message.splitlines()[0]}")
            return False

    _wait_for(probe, timeout, what, interval=1.0)


def api_as(stack: RunningStack, user_id: str, service: str = "attentions") -> httpx.Client:
    """An API client through the gateway, signed in as a development user (to prepare data quickly)."""
    answer = httpx.post(f"{stack.url}/api/attentions/dev/token", json={"user_id": user_id}, timeout=30)
    answer.raise_for_status()
    token = answer.json()["access_token"]
    return httpx.Client(
        base_url=f"{stack.url}/api/{service}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
