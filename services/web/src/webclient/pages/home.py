"""Inicio: the user's open tickets, overdue and due soon first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from webclient.web import Page, page

router = APIRouter()
OPEN = ["assigned", "accepted", "in_progress", "reopened"]


@router.get("/", response_class=HTMLResponse)
async def home(p: Annotated[Page, Depends(page)]) -> HTMLResponse:
    mine = await p.api.get(
        "tickets", "/tickets", {"responsible": p.user.user_id, "status": OPEN, "limit": 50}
    )
    for t in mine["items"]:
        t["urgency"] = p.urgency(t["due_date"], t["status"] != "closed")
    overdue = await p.api.get("tickets", "/tickets", {"status": OPEN, "overdue": "true", "limit": 10})
    return p.render("home.html", mine=mine["items"], overdue=overdue)
