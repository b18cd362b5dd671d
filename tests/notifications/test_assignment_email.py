"""The assignment email end to end: TicketAssigned on the real broker -> the service -> a real SMTP server."""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = pytest.mark.integration


async def test_assignment_email_goes_to_the_responsible_person_with_copies_to_the_cc_people(
    notifications, smtp, make
):
    service = await notifications()
    responsible = make.person("u-jperez", "Juana Pérez", area="Gerencia Técnica")
    copies = [make.person("u-agomez", "Ana Gómez"), make.person("u-lrivas", "Luis Rivas")]
    ticket = make.assigned(
        responsible,
        # The responsible person listed in copy too, and a CC person twice: one email each all the same.
        cc=[copies[0], responsible, copies[1], copies[0]],
        due_date=date(2026, 11, 20),
        internal=date(2026, 11, 25),
        responsibility="Revisar el medidor <N° 45> & reportar la lectura",
    )
    [envelope] = await service.publish(ticket)

    received = await smtp.wait_for(3, what="the assignment email and its two copies")
    assert len(received) == 3
    by_recipient = {m.rcpt_tos[0]: m for m in received}
    assert sorted(by_recipient) == sorted(p.email for p in [responsible, *copies])
    assert all(len(m.rcpt_tos) == 1 for m in received)  # one SMTP transaction (and delivery state) each
    link = f"https://crm.edesal.example/tickets/{ticket.ticket_id}"

    for message in received:
        headers = message.message
        assert message.mail_from == "crm@edesal.example"
        assert str(headers["From"]) == "CRM EDESAL <crm@edesal.example>"
        assert str(headers["To"]) == "Juana Pérez <u-jperez@edesal.example>"
        assert (
            str(headers["Cc"]) == "Ana Gómez <u-agomez@edesal.example>, Luis Rivas <u-lrivas@edesal.example>"
        )
        assert headers["Auto-Submitted"] == "auto-generated"
        assert headers["X-CRM-Ticket"] == ticket.code
        assert headers.get_content_type() == "multipart/alternative"
        for body in (message.text, message.html):
            assert ticket.code in body
            assert "viernes 20 de noviembre de 2026" in body and "20/11/2026" in body
            assert "Reclamo por facturación alta" in body and "EVT-2026-000077" in body
            assert "miércoles 25 de noviembre de 2026" in body
            assert "ATN-2026-000123" in body
            assert "NIC 3012345 · José Martínez Hernández" in body
            assert link in body
        assert "Revisar el medidor <N° 45> & reportar la lectura" in message.text
        assert "Revisar el medidor &lt;N° 45&gt; &amp; reportar la lectura" in message.html
        assert f'href="{link}"' in message.html

    to_responsible = by_recipient[responsible.email]
    assert to_responsible.subject == f"Se le asignó el ticket {ticket.code} · vence el 20/11/2026"
    assert to_responsible.text.startswith("Estimado(a) Juana Pérez:")
    assert "Se le ha asignado el ticket" in to_responsible.text
    copy = by_recipient[copies[0].email]
    assert copy.subject == f"Copia: ticket {ticket.code} asignado a Juana Pérez · vence el 20/11/2026"
    assert copy.text.startswith("Estimado(a) Ana Gómez:")
    assert "Recibe esta copia" in copy.text

    # Recorded before sending, each with its own stable Message-ID; all sent at the first attempt.
    rows = await service.wait_rows(
        "SELECT count(*) FROM email_messages WHERE status = 'sent'", lambda n: n == 3, what="3 sent"
    )
    rows = await service.messages()
    assert {(r["recipient_email"], r["role"], r["attempts"], r["status"]) for r in rows} == {
        (responsible.email, "to", 1, "sent"),
        (copies[0].email, "cc", 1, "sent"),
        (copies[1].email, "cc", 1, "sent"),
    }
    assert {r["message_id"] for r in rows} == {m.message_id for m in received}
    assert all(r["source_event_id"] == envelope.event_id and r["ticket_id"] == ticket.ticket_id for r in rows)
    assert all(r["smtp_response"].startswith("2.0.0 OK") for r in rows)


async def test_a_redelivered_ticket_assigned_sends_no_second_email(notifications, smtp, make):
    service = await notifications()
    ticket = make.assigned(make.person("u-jperez"), cc=[make.person("u-agomez")])
    [envelope] = await service.publish(ticket)
    await smtp.wait_for(2, what="the first delivery")

    # The same envelope (same event id) published again, twice, as a relay retry would.
    await service.send(envelope)
    await service.send(envelope)
    marker = make.assigned(make.person("u-marker"))
    await service.publish(marker)  # same topic, after the duplicates: once it is mailed, they were consumed
    await smtp.wait_for(3, what="the marker after the duplicates")
    await service.processed([envelope])

    assert len(smtp.to("u-jperez@edesal.example")) == 1
    assert len(smtp.to("u-agomez@edesal.example")) == 1
    assert len(smtp.received) == 3
    assert await service.fetchval("SELECT count(*) FROM email_messages") == 3


async def test_one_smtp_connection_carries_a_burst(notifications, smtp, make):
    service = await notifications()
    tickets = [make.assigned(make.person(f"u-{i:03d}")) for i in range(40)]
    await service.publish(*tickets)
    await smtp.wait_for(40, what="40 assignment emails")
    assert len({m.message_id for m in smtp.received}) == 40
    # Kept open while there were messages; a second connection only if the burst paused for a while.
    assert smtp.handler.connections <= 2
    assert service.parts.sender is not None
    assert service.parts.sender.mailer.connections_opened == smtp.handler.connections
