"""The running local stack the browser tests drive, and what they need from it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from stack.test_local_stack import (
    BROKER_PORT,
    GATEWAY_PORT,
    MAIL_WEB_PORT,
    SERVICES,
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
