"""The delivery log API: per ticket and per person; a staff member sees their own messages, admins all."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def test_the_delivery_log_per_ticket_and_per_person_with_access_by_role(notifications, smtp, make):
    service = await notifications()
    juana, ana, luis = make.person("u-juana"), make.person("u-ana"), make.person("u-luis")
    first = make.assigned(juana, cc=[ana])
    second = make.assigned(luis, cc=[juana])
    await service.publish(first, second)
    await smtp.wait_for(4)
    await service.wait_rows(
        "SELECT count(*) FROM email_messages WHERE status = 'sent'", lambda n: n == 4, what="4 sent"
    )

    async with service.client() as http:
        assert (await http.get("/messages")).status_code == 401
        bad = await http.get("/messages", headers={"Authorization": "Bearer not-a-token"})
        assert bad.status_code == 401
        assert bad.headers["content-type"] == "application/problem+json"

        admin = service.token("u-admin", "admin")
        everything = (await http.get("/messages", headers=admin)).json()
        assert len(everything["items"]) == 4
        assert everything["next_cursor"] is None

        per_ticket = (await http.get(f"/tickets/{first.ticket_id}/messages", headers=admin)).json()["items"]
        assert {(i["recipient"]["user_id"], i["recipient"]["role"], i["status"]) for i in per_ticket} == {
            ("u-juana", "to", "sent"),
            ("u-ana", "cc", "sent"),
        }
        item = per_ticket[0]
        assert item["attempts"] == 1 and item["last_error"] is None and item["sent_at"] is not None
        assert item["ticket_code"] == first.code and item["kind"] == "assignment"
        assert item["message_id"].startswith("<") and item["subject"]

        # A staff member sees their own messages only: as responsible and as copy.
        juana_token = service.token("u-juana", "agent")
        mine = (await http.get("/me/messages", headers=juana_token)).json()["items"]
        assert {(i["ticket_id"], i["recipient"]["role"]) for i in mine} == {
            (str(first.ticket_id), "to"),
            (str(second.ticket_id), "cc"),
        }
        assert (await http.get("/people/u-juana/messages", headers=juana_token)).status_code == 200
        assert (await http.get("/people/u-ana/messages", headers=juana_token)).status_code == 403
        assert (await http.get("/messages?recipient_id=u-ana", headers=juana_token)).status_code == 403
        theirs = (await http.get(f"/tickets/{second.ticket_id}/messages", headers=juana_token)).json()[
            "items"
        ]
        assert [i["recipient"]["user_id"] for i in theirs] == ["u-juana"]  # not Luis's own email
        luis_message = next(i for i in everything["items"] if i["recipient"]["user_id"] == "u-luis")
        assert (await http.get(f"/messages/{luis_message['id']}", headers=juana_token)).status_code == 404
        assert (await http.get(f"/messages/{luis_message['id']}", headers=admin)).status_code == 200

        # Filters and pages.
        page = (await http.get("/messages?limit=3", headers=admin)).json()
        assert len(page["items"]) == 3 and page["next_cursor"] is not None
        rest = (await http.get("/messages", params={"cursor": page["next_cursor"]}, headers=admin)).json()
        assert len(rest["items"]) == 1 and rest["next_cursor"] is None
        assert {i["id"] for i in page["items"] + rest["items"]} == {i["id"] for i in everything["items"]}
        assert (await http.get("/messages?cursor=nonsense", headers=admin)).status_code == 422
        assert (await http.get("/messages?status=failed", headers=admin)).json()["items"] == []
        assert (await http.get("/messages?status=bogus", headers=admin)).status_code == 422


async def test_an_admin_can_put_a_failed_message_back_in_the_queue(notifications, smtp, make):
    service = await notifications()
    person = make.person("u-juana")
    smtp.refuse(person.email, "550 5.7.1 <{}>: mailbox disabled")
    await service.publish(make.assigned(person))
    await service.wait_rows("SELECT status FROM email_messages", lambda s: s == "failed", what="failed")
    [row] = await service.messages()

    async with service.client() as http:
        path = f"/messages/{row['id']}/retry"
        assert (await http.post(path, headers=service.token("u-juana", "agent"))).status_code == 403
        smtp.handler.refused.clear()  # the mailbox was fixed
        response = await http.post(path, headers=service.token("u-admin", "admin"))
        assert response.status_code == 200, response.text
        await smtp.wait_for(1, what="the message sent after the retry")
        await service.wait_rows("SELECT status FROM email_messages", lambda s: s == "sent", what="sent")
        again = await http.post(path, headers=service.token("u-admin", "admin"))
        assert again.status_code == 409
        assert again.json()["errors"][0]["rule"] == "not_retryable"
