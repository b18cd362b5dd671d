"""Reminders, escalation tiers and event alerts with a fake clock: the scheduler's tick() is called directly.

The projections are fed through the real broker (staff directory, event, ticket events) and the messages
go out through the real SMTP server.
"""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

pytestmark = pytest.mark.integration

ORG = [
    # user, manager: responsible -> coordinator -> manager -> superintendent
    ("u-resp", "u-coord"),
    ("u-coord", "u-ger"),
    ("u-ger", "u-super"),
    ("u-super", None),
    ("u-creator", "u-ger"),
]


async def _org_and_ticket(service, make, clock, due=date(2026, 11, 10), area="Gerencia Comercial"):
    staff = [make.staff(user, manager_id=manager, area=area) for user, manager in ORG]
    event = make.event_opened("u-creator", client=date(2026, 11, 20), internal=date(2026, 11, 12))
    ticket = make.assigned(
        make.person("u-resp", "U-Resp", area=area),
        due_date=due,
        internal=date(2026, 11, 12),
        event_id=event.event_id,
    )
    envelopes = await service.publish(*staff, event, ticket, occurred_at=clock.now())
    await service.processed(envelopes)
    return event, ticket


async def _tick_at(service, clock, moment):
    clock.set(moment)
    outcome = await service.tick()
    return sorted((p.kind, p.recipient.user_id) for p in outcome.recorded)


async def test_reminder_then_three_escalation_tiers_to_the_right_managers(
    notifications, smtp, make, clock, sv
):
    service = await notifications(clock=clock)
    event, ticket = await _org_and_ticket(service, make, clock)
    await smtp.wait_for(1, what="the assignment email")

    assert await _tick_at(service, clock, sv(2026, 11, 2, 9)) == []
    # Two days before the due date, but before 07:00 local time: not yet.
    assert await _tick_at(service, clock, sv(2026, 11, 8, 6, 59)) == []
    assert await _tick_at(service, clock, sv(2026, 11, 8, 7, 0)) == [("reminder", "u-resp")]
    assert await _tick_at(service, clock, sv(2026, 11, 8, 15)) == []  # once per rule
    assert await _tick_at(service, clock, sv(2026, 11, 10, 9)) == []  # the due date itself: on time
    # The event's internal date (12th) has passed with the ticket open: its creator is alerted.
    assert await _tick_at(service, clock, sv(2026, 11, 13, 9)) == [("event_internal_overdue", "u-creator")]
    assert await _tick_at(service, clock, sv(2026, 11, 16, 9)) == []  # 6 days overdue
    # 7 days overdue: tier 1, the coordinator; and 3 days before the client date (20th): the creator.
    assert await _tick_at(service, clock, sv(2026, 11, 17, 9)) == [
        ("escalation", "u-coord"),
        ("event_client_due", "u-creator"),
    ]
    assert await _tick_at(service, clock, sv(2026, 11, 23, 9)) == []  # 13 days
    assert await _tick_at(service, clock, sv(2026, 11, 24, 9)) == [("escalation", "u-ger")]  # 14 days: tier 2
    assert await _tick_at(service, clock, sv(2026, 12, 1, 9)) == [
        ("escalation", "u-super")
    ]  # 21 days: tier 3
    assert await _tick_at(service, clock, sv(2026, 12, 31, 9)) == []  # the ladder has no 4th tier

    received = await smtp.wait_for(7, what="assignment, reminder, two event alerts, three escalations")
    assert len(received) == 7
    subjects: dict[str, list[str]] = {m.rcpt_tos[0]: [] for m in received}
    for m in received:
        subjects[m.rcpt_tos[0]].append(m.subject)
    code = ticket.code
    assert subjects["u-resp@edesal.example"] == [
        f"Se le asignó el ticket {code} · vence el 10/11/2026",
        f"Recordatorio: el ticket {code} vence en 2 días (10/11/2026)",
    ]
    assert subjects["u-coord@edesal.example"] == [
        f"Escalamiento nivel 1 (Coordinación): ticket {code} vencido hace 7 días"
    ]
    assert subjects["u-ger@edesal.example"] == [
        f"Escalamiento nivel 2 (Gerencia): ticket {code} vencido hace 14 días"
    ]
    assert subjects["u-super@edesal.example"] == [
        f"Escalamiento nivel 3 (Superintendencia): ticket {code} vencido hace 21 días"
    ]
    assert subjects["u-creator@edesal.example"] == [
        "Evento EVT-2026-000078: venció la fecha de compromiso interna con 1 ticket abierto",
        "Evento EVT-2026-000078: el compromiso con el cliente vence en 3 días y hay 1 ticket abierto",
    ]
    escalation = smtp.to("u-ger@edesal.example")[0]
    assert "a cargo de U-Resp" in escalation.text and "14 días de atraso" in escalation.text
    assert f"https://crm.edesal.example/tickets/{ticket.ticket_id}" in escalation.html
    alert = smtp.to("u-creator@edesal.example")[0]
    assert f"https://crm.edesal.example/events/{event.event_id}" in alert.text
    assert "Alcaldía de Sonsonate" in alert.text

    keys = {r["dedupe_key"] for r in await service.messages()}
    assert f"escalation:{ticket.ticket_id}:general:3" in keys
    assert f"reminder:{ticket.ticket_id}:2d" in keys


async def test_nothing_is_sent_for_a_ticket_or_event_once_it_is_closed(notifications, smtp, make, clock, sv):
    service = await notifications(clock=clock)
    event, ticket = await _org_and_ticket(service, make, clock)
    await smtp.wait_for(1, what="the assignment email")

    await service.wait_rows(  # the client has the server's "250" (see the outage test)
        "SELECT count(*) FROM email_messages WHERE status = 'sent'", lambda n: n == 1, what="marked sent"
    )
    # A reminder recorded while the SMTP server is down stays queued ...
    smtp.stop()
    assert await _tick_at(service, clock, sv(2026, 11, 8, 9)) == [("reminder", "u-resp")]
    # ... and the ticket and its event close before it could go out: it is cancelled, never sent.
    closed = await service.publish(make.closed(ticket, clock.now()), make.event_closed(event, clock.now()))
    await service.processed(closed)
    # At once when the closure arrives; or, if the sender held the reminder at that moment (its send then
    # failed: the server is down), at the sender's next claim, before it could be sent.
    reminder_status = "SELECT status FROM email_messages WHERE kind = 'reminder'"
    await service.wait_rows(reminder_status, lambda s: s == "cancelled", what="cancelled")
    smtp.start()

    for moment in (sv(2026, 11, 13, 9), sv(2026, 11, 17, 9), sv(2026, 11, 24, 9), sv(2026, 12, 1, 9)):
        assert await _tick_at(service, clock, moment) == []

    marker = make.assigned(make.person("u-marker"))
    await service.publish(marker, occurred_at=clock.now())
    await smtp.wait_for(2, what="a later email")  # the sender was running all along
    assert [m.rcpt_tos[0] for m in smtp.received] == ["u-resp@edesal.example", "u-marker@edesal.example"]


async def test_a_reminder_the_sender_holds_when_its_ticket_closes_is_cancelled_after_a_failed_try(
    notifications, smtp, make, clock, sv
):
    """The closure arrives while the sender is sending the reminder (the consumer skips the row the sender
    holds), and the server answers 451: the reminder is due again later, for a closed ticket. The sender
    cancels it at that claim instead of sending it (CI caught it ending 'retrying', bound to be sent)."""
    service = await notifications(clock=clock)
    _, ticket = await _org_and_ticket(service, make, clock)
    await smtp.wait_for(1, what="the assignment email")
    await service.wait_rows(
        "SELECT count(*) FROM email_messages WHERE status = 'sent'", lambda n: n == 1, what="marked sent"
    )
    test_loop = asyncio.get_running_loop()

    async def close_the_ticket() -> None:
        envelopes = await service.publish(make.closed(ticket, clock.now()))
        await service.processed(envelopes)

    async def close_while_the_sender_holds_it() -> None:
        smtp.handler.before_accept = None
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(close_the_ticket(), test_loop))

    smtp.handler.before_accept = close_while_the_sender_holds_it
    smtp.answer_next(1, "451 4.3.0 Try again later")
    assert await _tick_at(service, clock, sv(2026, 11, 8, 9)) == [("reminder", "u-resp")]
    await service.wait_rows(
        "SELECT count(*) FROM email_messages WHERE kind = 'reminder' AND attempts = 1",
        lambda n: n == 1,
        what="the reminder's first try, refused",
    )
    clock.advance(minutes=5)  # past its retry time
    await service.wait_rows(
        "SELECT status FROM email_messages WHERE kind = 'reminder'",
        lambda s: s == "cancelled",
        what="cancelled",
    )
    marker = make.assigned(make.person("u-marker"))
    await service.publish(marker, occurred_at=clock.now())
    await smtp.wait_for(2, what="a later email")
    assert [m.rcpt_tos[0] for m in smtp.received] == ["u-resp@edesal.example", "u-marker@edesal.example"]
    assert [answer for _, answer in smtp.refusals] == ["451 4.3.0 Try again later"]


async def test_reminders_and_escalations_survive_a_restart_and_a_reopened_ticket_escalates_on(
    notifications, smtp, make, clock, sv
):
    first = await notifications(clock=clock)
    _, ticket = await _org_and_ticket(service=first, make=make, clock=clock)
    assert await _tick_at(first, clock, sv(2026, 11, 17, 9)) == [
        ("escalation", "u-coord"),
        ("event_client_due", "u-creator"),
        ("event_internal_overdue", "u-creator"),
        # no reminder: the due date had passed by the first tick
    ]
    await smtp.wait_for(4)  # (closing the ticket first would cancel an escalation not sent yet)
    closed = await first.publish(make.closed(ticket, clock.now()))
    await first.processed(closed)
    await first.stop()

    second = await notifications(clock=clock, database_url=first.settings.database_url)
    assert await _tick_at(second, clock, sv(2026, 11, 17, 10)) == []
    reopened = await second.publish(make.reopened(ticket, clock.now()))
    await second.processed(reopened)
    # Reopened and still overdue: what was sent is not sent again; the next tier comes on its day.
    assert await _tick_at(second, clock, sv(2026, 11, 18, 9)) == []
    assert await _tick_at(second, clock, sv(2026, 11, 24, 9)) == [("escalation", "u-ger")]
    await smtp.wait_for(5)
    assert len(smtp.to("u-coord@edesal.example")) == 1


async def test_a_rules_file_sets_a_shorter_ladder_for_one_area(
    notifications, smtp, make, clock, sv, tmp_path
):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        """
send_from: "08:00"
reminders: []
ladders:
  - name: tecnica
    match: {areas: ["Gerencia Técnica"]}
    tiers:
      - {after_days: 4, label: Gerente Técnico}
      - {after_days: 6, levels_up: 3, label: Superintendencia}
event_alerts:
  internal_date_passed: false
  client_days_before: []
""",
        encoding="utf-8",
    )
    service = await notifications(clock=clock, notification_rules_file=str(rules))
    await _org_and_ticket(service, make, clock, area="Gerencia Técnica")
    assert await _tick_at(service, clock, sv(2026, 11, 8, 9)) == []  # no reminders configured
    assert await _tick_at(service, clock, sv(2026, 11, 14, 7, 30)) == []  # 4 days, but before 08:00
    assert await _tick_at(service, clock, sv(2026, 11, 14, 8)) == [("escalation", "u-coord")]
    assert await _tick_at(service, clock, sv(2026, 11, 16, 8)) == [("escalation", "u-super")]  # 3 levels up
    received = await smtp.wait_for(3)
    assert received[-1].subject.startswith("Escalamiento nivel 2 (Superintendencia)")

    async with service.client() as http:
        response = await http.get("/rules", headers=service.token("u-resp"))
        assert response.status_code == 200
        assert response.json()["ladders"][0]["tiers"][1] == {
            "tier": 2,
            "after_days": 6,
            "levels_up": 3,
            "label": "Superintendencia",
        }
