"""What the SMTP server answers, and what becomes of each message: retried, failed for good, or sent once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys

import asyncpg
import pytest
from crmkit import localstack

pytestmark = pytest.mark.integration


async def test_a_451_answer_is_retried_until_the_server_accepts_and_the_message_is_delivered_once(
    notifications, smtp, make
):
    service = await notifications()
    smtp.answer_next(2, "451 4.3.0 Mailbox busy, try again later")
    ticket = make.assigned(make.person("u-jperez"))
    await service.publish(ticket)

    await smtp.wait_for(1, what="delivery after two 451 answers")
    row = await service.wait_rows(
        "SELECT status FROM email_messages", lambda s: s == "sent", what="the message marked sent"
    )
    [row] = await service.messages()
    assert row["status"] == "sent"
    assert row["attempts"] == 3
    assert row["last_error"] == "451 4.3.0 Mailbox busy, try again later"  # kept for the log
    assert [answer for _, answer in smtp.refusals] == ["451 4.3.0 Mailbox busy, try again later"] * 2
    assert len(smtp.received) == 1
    # Tried again later each time (backoff), not at once.
    assert row["last_attempt_at"] > row["created_at"]


async def test_a_550_answer_fails_the_message_for_good_and_shows_in_the_delivery_log(
    notifications, smtp, make
):
    service = await notifications()
    bad = make.person("u-gone", "Persona Retirada")
    smtp.refuse(bad.email, "550 5.1.1 <{}>: Recipient address rejected: User unknown")
    ticket = make.assigned(make.person("u-jperez"), cc=[bad])
    await service.publish(ticket)

    await smtp.wait_for(1, what="the responsible person's email")
    await service.wait_rows(
        "SELECT status FROM email_messages WHERE recipient_id = 'u-gone'",
        lambda s: s == "failed",
        what="the refused copy marked failed",
    )
    # The sender goes on with other messages; the failed one is never tried again.
    later = make.assigned(make.person("u-later"))
    await service.publish(later)
    await smtp.wait_for(2, what="a later email")
    [failed] = await service.fetch("SELECT * FROM email_messages WHERE recipient_id = 'u-gone'")
    assert failed["attempts"] == 1
    assert failed["next_attempt_at"] is None
    assert [address for address, _ in smtp.refusals] == [bad.email]

    async with service.client() as http:
        response = await http.get(
            f"/tickets/{ticket.ticket_id}/messages", headers=service.token("admin", "admin")
        )
        assert response.status_code == 200, response.text
        by_recipient = {item["recipient"]["user_id"]: item for item in response.json()["items"]}
        assert by_recipient["u-gone"]["status"] == "failed"
        assert by_recipient["u-gone"]["attempts"] == 1
        assert by_recipient["u-gone"]["last_error"] == (
            "550 5.1.1 <u-gone@edesal.example>: Recipient address rejected: User unknown"
        )
        assert by_recipient["u-gone"]["finished_at"] is not None
        assert by_recipient["u-jperez"]["status"] == "sent"


async def test_an_smtp_outage_delays_messages_and_each_is_delivered_once_when_it_ends(
    notifications, smtp, make
):
    service = await notifications()
    await service.publish(make.assigned(make.person("u-before")))
    await smtp.wait_for(1, what="a delivery before the outage")  # the sender holds an open connection
    # Stop the server only once the client has its "250": stopped between keeping the message and
    # answering, the server would make the client send it again (at least once, as documented).
    await service.wait_rows(
        "SELECT count(*) FROM email_messages WHERE status = 'sent'", lambda n: n == 1, what="marked sent"
    )

    smtp.stop()
    tickets = [make.assigned(make.person(f"u-{i:02d}")) for i in range(12)]
    await service.publish(*tickets)
    await service.wait_rows(
        "SELECT count(*) FROM email_messages WHERE status = 'retrying'",
        lambda n: n >= 2,
        what="failed attempts while the server is down",
    )
    assert await service.fetchval("SELECT count(*) FROM email_messages WHERE status = 'sent'") == 1

    smtp.start()
    await smtp.wait_for(13, what="every message after the outage")
    await service.wait_rows(
        "SELECT count(*) FROM email_messages WHERE status = 'sent'", lambda n: n == 13, what="13 sent"
    )
    marker = make.assigned(make.person("u-after"))
    await service.publish(marker)
    await smtp.wait_for(14, what="a marker after the outage")

    received = smtp.received
    assert len(received) == 14
    assert len({m.message_id for m in received}) == 14, "a message was delivered twice"
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(
        [f"u-{i:02d}@edesal.example" for i in range(12)]
        + ["u-before@edesal.example", "u-after@edesal.example"]
    )
    rows = await service.messages()
    assert {r["status"] for r in rows} == {"sent"}
    assert max(r["attempts"] for r in rows) >= 2
    assert all(r["attempts"] < 10 for r in rows)


async def test_an_unusable_address_is_failed_without_an_attempt(notifications, smtp, make):
    service = await notifications()
    odd = make.person("u-odd").model_copy(update={"email": "josé@edesal.example"})
    ticket = make.assigned(make.person("u-jperez"), cc=[odd])
    await service.publish(ticket)
    await smtp.wait_for(1)
    [row] = await service.fetch("SELECT * FROM email_messages WHERE recipient_id = 'u-odd'")
    assert row["status"] == "failed"
    assert row["attempts"] == 0
    assert "non-ASCII" in row["last_error"]
    assert smtp.to("josé@edesal.example") == []


async def test_a_database_outage_after_the_server_took_messages_sends_none_of_them_twice(
    notifications, smtp, make
):
    """The SMTP server has accepted messages, and the database cuts every connection before the sender's
    round commits: the round's outcomes are recorded once it is back, and nothing is sent again."""
    service = await notifications()
    cuts: list[int] = []

    async def cut_every_database_connection() -> None:
        if cuts:
            return
        conn = await asyncpg.connect(service.settings.database_url)
        try:
            cuts.append(
                await conn.fetchval(
                    """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                       WHERE datname = current_database() AND pid <> pg_backend_pid()"""
                )
            )
        finally:
            await conn.close()

    smtp.handler.before_accept = cut_every_database_connection
    tickets = [make.assigned(make.person(f"u-{i:02d}")) for i in range(5)]
    await service.publish(*tickets)
    await smtp.wait_for(5, what="the five emails")
    await service.wait_rows(
        "SELECT count(*) FROM email_messages WHERE status = 'sent'", lambda n: n == 5, what="5 sent"
    )
    marker = make.assigned(make.person("u-after"))
    await service.publish(marker)
    await smtp.wait_for(6, what="a marker after the cut")
    await service.wait_rows(
        "SELECT count(*) FROM email_messages WHERE status = 'sent'", lambda n: n == 6, what="6 sent"
    )

    assert cuts and cuts[0] >= 1, "the database connections were never cut"
    received = smtp.received
    assert len({m.message_id for m in received}) == 6
    assert len(received) == 6, "a message was sent twice"
    rows = await service.messages()
    assert {r["status"] for r in rows} == {"sent"}
    assert {r["attempts"] for r in rows} == {1}
    assert {r["interrupted_attempts"] for r in rows} == {0}
    assert await service.fetchval("SELECT count(*) FROM email_send_attempts") == 0


async def test_a_sender_killed_after_the_server_took_a_message_resends_it_marked_as_interrupted(
    notifications, smtp, make
):
    """The one window no SMTP client can close: the server has the message, the sender process dies before
    it learns so. The message is sent again (never lost), and the delivery log says this send may be a
    duplicate; the copy is the same message (same Message-ID)."""
    recorder = await notifications(mail_sender_enabled=False)
    ticket = make.assigned(make.person("u-jperez"))
    await recorder.publish(ticket)
    await recorder.wait_rows(
        "SELECT count(*) FROM email_messages WHERE status = 'pending'", lambda n: n == 1, what="recorded"
    )
    settings = recorder.settings
    await recorder.stop()

    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_IDEMPOTENCE": str(settings.kafka_idempotence).lower(),
        "TOPIC_PREFIX": settings.topic_prefix,
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "MAIL_FROM": settings.mail_from,
        "SCHEDULER_ENABLED": "false",
        "LOG_JSON": "false",
        "HTTP_PORT": str(localstack.free_port()),
    }
    sender = _worker_process(env)

    async def die_before_the_answer() -> None:
        # SIGKILL from inside the server's DATA handler: the message is kept, the answer never leaves.
        smtp.handler.after_keep = None
        os.killpg(sender.pid, signal.SIGKILL)
        await asyncio.get_running_loop().run_in_executor(None, sender.wait, 10)

    smtp.handler.after_keep = die_before_the_answer
    try:
        code = await asyncio.get_running_loop().run_in_executor(None, sender.wait, 60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sender.pid, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert len(smtp.received) == 1

    survivor = await notifications(database_url=settings.database_url)
    await smtp.wait_for(2, what="the message sent again after the crash")
    [row] = await survivor.fetch("SELECT * FROM email_messages WHERE status = 'sent'") or [None]
    assert row is not None and row["interrupted_attempts"] == 1
    first, again = smtp.received
    assert first.message_id == again.message_id and first.raw == again.raw
    assert await survivor.fetchval("SELECT count(*) FROM email_send_attempts") == 0
    async with survivor.client() as http:
        log = (
            await http.get(f"/tickets/{ticket.ticket_id}/messages", headers=survivor.token("admin", "admin"))
        ).json()
    assert [m["interrupted_attempts"] for m in log["items"]] == [1]

    # A later message is sent once and not marked: the journal of a finished round is gone.
    later = make.assigned(make.person("u-later"))
    await survivor.publish(later)
    await smtp.wait_for(3, what="a later email")
    marks = await survivor.fetch("SELECT recipient_id, interrupted_attempts FROM email_messages")
    assert {r["recipient_id"]: r["interrupted_attempts"] for r in marks} == {"u-jperez": 1, "u-later": 0}


def _worker_process(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "notifications", "worker"], env=env, start_new_session=True
    )
