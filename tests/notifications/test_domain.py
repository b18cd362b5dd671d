"""Unit tests of the pure rules: no database, broker or SMTP server."""

from __future__ import annotations

import email
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from email import policy
from email.message import EmailMessage

import pytest
from notifications.compose import Composer
from notifications.domain.dates import (
    days_overdue,
    days_until,
    format_date,
    format_date_short,
    format_datetime,
    local_today,
)
from notifications.domain.delivery import RetryPolicy, after_failure, is_permanent
from notifications.domain.model import EventView, Recipient, StaffMember, TicketView
from notifications.domain.planning import (
    escalations_due,
    event_alerts_due,
    manager_chain,
    plan,
    reminders_due,
)
from notifications.domain.recipients import address_problem, assignment_recipients
from notifications.domain.rules import DEFAULT_LADDER, DEFAULT_RULES, InvalidRules, Match, parse_rules
from notifications.mime import build_alternative, encode_header_text, format_address
from notifications.rules_file import load_rules

UTC_MINUS_6 = timedelta(hours=6)


def at_sv(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC) + UTC_MINUS_6


def staff(*links: tuple[str, str | None], inactive: tuple[str, ...] = ()) -> dict[str, StaffMember]:
    return {
        user: StaffMember(
            user, user.title(), f"{user}@edesal.example", "Gerencia Comercial", manager, user not in inactive
        )
        for user, manager in links
    }


def ticket(due: date = date(2026, 11, 10), assigned: datetime | None = None, **changes: object) -> TicketView:
    values: dict[str, object] = {
        "ticket_id": uuid.UUID(int=1),
        "code": "TCK-2026-000001",
        "responsibility": "Revisar medidor",
        "due_date": due,
        "responsible_id": "resp",
        "responsible_name": "Resp",
        "responsible_email": "resp@edesal.example",
        "area": "Gerencia Comercial",
        "event_id": uuid.UUID(int=2),
        "event_code": "EVT-2026-000001",
        "event_title": "Evento",
        "event_internal_date": date(2026, 11, 12),
        "attention_code": "ATN-2026-000001",
        "subject_name": "Cliente S.A. de C.V.",
        "assigned_at": assigned or at_sv(2026, 11, 1),
    }
    values.update(changes)
    return TicketView(**values)


def event(open_tickets: int = 1, **changes: object) -> EventView:
    values: dict[str, object] = {
        "event_id": uuid.UUID(int=3),
        "code": "EVT-2026-000001",
        "title": "Evento",
        "attention_code": "ATN-2026-000001",
        "subject_name": "Cliente",
        "client_commitment_date": date(2026, 11, 20),
        "internal_commitment_date": date(2026, 11, 12),
        "created_by": "creator",
        "open_tickets": open_tickets,
    }
    values.update(changes)
    return EventView(**values)


# -- dates --------------------------------------------------------------------------------------------------


def test_days_are_counted_in_el_salvador_not_in_utc():
    # 03:00 UTC on the 3rd is still 21:00 on the 2nd in San Salvador.
    assert local_today(datetime(2026, 11, 3, 3, 0, tzinfo=UTC)) == date(2026, 11, 2)
    assert local_today(datetime(2026, 11, 3, 6, 0, tzinfo=UTC)) == date(2026, 11, 3)
    with pytest.raises(ValueError, match="time zone"):
        local_today(datetime(2026, 11, 3, 3, 0))


def test_dates_are_written_the_salvadoran_way():
    assert format_date(date(2026, 11, 9)) == "lunes 9 de noviembre de 2026"
    assert format_date(date(2026, 3, 1)) == "domingo 1 de marzo de 2026"
    assert format_date_short(date(2026, 3, 1)) == "01/03/2026"
    assert format_datetime(datetime(2026, 11, 3, 3, 5, tzinfo=UTC)) == "02/11/2026 21:05"


def test_due_and_overdue_days():
    assert days_until(date(2026, 11, 10), date(2026, 11, 8)) == 2
    assert days_overdue(date(2026, 11, 10), date(2026, 11, 10)) == 0
    assert days_overdue(date(2026, 11, 10), date(2026, 11, 17)) == 7
    assert days_overdue(date(2026, 11, 10), date(2026, 11, 1)) == 0


# -- rules --------------------------------------------------------------------------------------------------


def test_the_default_ladder_is_the_one_of_seed_001():
    assert [(t.number, t.after_days, t.levels_up, t.label) for t in DEFAULT_LADDER.tiers] == [
        (1, 7, 1, "Coordinación"),
        (2, 14, 2, "Gerencia"),
        (3, 21, 3, "Superintendencia"),
    ]
    assert DEFAULT_RULES.ladder_for("Cualquier área", None) is DEFAULT_LADDER
    assert [r.days_before for r in DEFAULT_RULES.reminders] == [2]
    assert DEFAULT_RULES.send_from == time(7, 0)


def test_rules_file_format_with_overrides_per_area_and_ticket_type(tmp_path):
    data = {
        "send_from": "06:30",
        "reminders": [
            {"days_before": 3},
            {"name": "vence-hoy", "days_before": 0, "match": {"areas": ["Gerencia Técnica"]}},
        ],
        "ladders": [
            {
                "name": "defecto",
                "match": {"ticket_types": ["defecto"]},
                "tiers": [
                    {"after_days": 4, "label": "Gerente Técnico"},
                    {"after_days": 6},
                    {"after_days": 8},
                ],
            },
            {"name": "sin-escalamiento", "match": {"areas": ["Junta Directiva"]}, "tiers": []},
        ],
        "event_alerts": {"internal_date_passed": False, "client_days_before": [5, 1, 5]},
    }
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    rules = load_rules(path)
    assert rules.send_from == time(6, 30)
    assert [(r.name, r.days_before) for r in rules.reminders] == [("3d", 3), ("vence-hoy", 0)]
    assert [r.name for r in rules.reminders_for("gerencia  técnica", None)] == ["3d", "vence-hoy"]
    assert [r.name for r in rules.reminders_for("Gerencia Comercial", None)] == ["3d"]
    defect = rules.ladder_for("Gerencia Comercial", "Defecto")
    assert defect.name == "defecto"
    assert [(t.number, t.after_days, t.levels_up, t.label) for t in defect.tiers] == [
        (1, 4, 1, "Gerente Técnico"),
        (2, 6, 2, "Nivel 2"),
        (3, 8, 3, "Nivel 3"),
    ]
    assert rules.ladder_for("Junta Directiva", None).tiers == ()
    assert rules.ladder_for("Gerencia Comercial", None) is DEFAULT_LADDER  # nothing fits: the default
    assert rules.event_alerts.internal_date_passed is False
    assert rules.event_alerts.client_days_before == (1, 5)


def test_a_partial_yaml_file_keeps_the_other_defaults_and_reads_an_unquoted_time(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("send_from: 08:15\nreminders:\n  - days_before: 1\n", encoding="utf-8")
    rules = load_rules(path)
    assert rules.send_from == time(8, 15)  # YAML 1.1 reads 08:15 as 495 (base 60)
    assert [r.name for r in rules.reminders] == ["1d"]
    assert rules.ladders == DEFAULT_RULES.ladders
    assert rules.event_alerts == DEFAULT_RULES.event_alerts
    assert load_rules(None) is DEFAULT_RULES


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"ladder": []}, "ladder: Extra inputs are not permitted"),
        ({"ladders": [{"name": "x", "tiers": [{"after_days": 14}, {"after_days": 7}]}]}, "strictly increase"),
        ({"reminders": [{"days_before": 2}, {"days_before": 2}]}, "two reminders are named '2d'"),
        ({"reminders": [{"days_before": -1}]}, "greater than or equal to 0"),
        ({"ladders": [{"name": "a b", "tiers": []}]}, "ladders.0.name"),
        ({"event_alerts": {"client_days_before": [-2]}}, "must not be negative"),
    ],
)
def test_a_wrong_rules_file_is_refused_with_the_place_and_the_reason(data, message):
    with pytest.raises(InvalidRules, match="invalid notification rules") as error:
        parse_rules(data)
    assert message in str(error.value)


def test_a_rules_file_that_is_not_a_mapping_or_not_yaml_is_refused(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(InvalidRules, match="mapping"):
        load_rules(path)
    path.write_text("reminders: [\n", encoding="utf-8")
    with pytest.raises(InvalidRules, match="not valid YAML"):
        load_rules(path)
    with pytest.raises(InvalidRules, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


def test_match_is_case_and_space_insensitive_and_empty_matches_all():
    assert Match().fits(None, None)
    assert Match(areas=("Gerencia Técnica",)).fits("  GERENCIA   técnica ", None)
    assert not Match(areas=("Gerencia Técnica",)).fits("Gerencia Comercial", None)
    assert not Match(ticket_types=("defecto",)).fits("x", None)


# -- the manager chain and the ladder -----------------------------------------------------------------------


def test_the_manager_chain_goes_up_nearest_first():
    org = staff(("resp", "coord"), ("coord", "ger"), ("ger", "super"), ("super", None))
    assert [m.user_id for m in manager_chain("resp", org)] == ["coord", "ger", "super"]
    assert [m.user_id for m in manager_chain("ger", org)] == ["super"]
    assert manager_chain("super", org) == []
    assert manager_chain("stranger", org) == []


def test_the_manager_chain_passes_over_inactive_managers_and_stops_at_cycles_and_unknowns():
    org = staff(("resp", "coord"), ("coord", "ger"), ("ger", "super"), ("super", None), inactive=("coord",))
    assert [m.user_id for m in manager_chain("resp", org)] == ["ger", "super"]
    cycle = staff(("a", "b"), ("b", "c"), ("c", "a"))
    assert [m.user_id for m in manager_chain("a", cycle)] == ["b", "c"]
    assert manager_chain("self", staff(("self", "self"))) == []
    assert [m.user_id for m in manager_chain("x", staff(("x", "y"), ("y", "gone")))] == ["y"]


def test_escalation_tiers_are_reached_by_days_overdue_and_go_to_their_level():
    org = staff(("resp", "coord"), ("coord", "ger"), ("ger", "super"), ("super", None))
    chain = manager_chain("resp", org)
    t = ticket(due=date(2026, 11, 10))

    def due_at(day: date) -> list[tuple[int, str]]:
        return [(tier.number, m.user_id) for tier, m in escalations_due(t, DEFAULT_LADDER, chain, day)]

    assert due_at(date(2026, 11, 16)) == []
    assert due_at(date(2026, 11, 17)) == [(1, "coord")]
    assert due_at(date(2026, 11, 24)) == [(1, "coord"), (2, "ger")]
    assert due_at(date(2026, 12, 1)) == [(1, "coord"), (2, "ger"), (3, "super")]
    # Nobody above the top of a short chain: that tier is skipped.
    short = manager_chain("ger", org)
    assert [
        (tier.number, m.user_id) for tier, m in escalations_due(t, DEFAULT_LADDER, short, date(2026, 12, 1))
    ] == [(1, "super")]
    assert escalations_due(ticket(closed=True), DEFAULT_LADDER, chain, date(2026, 12, 1)) == []


def test_a_reminder_is_due_from_n_days_before_until_the_due_date():
    rules = parse_rules({"reminders": [{"days_before": 2}, {"days_before": 0}]})
    t = ticket(due=date(2026, 11, 10), assigned=at_sv(2026, 11, 1))
    assert [r.name for r in reminders_due(t, rules, date(2026, 11, 7))] == []
    assert [r.name for r in reminders_due(t, rules, date(2026, 11, 8))] == ["2d"]
    assert [r.name for r in reminders_due(t, rules, date(2026, 11, 10))] == ["2d", "0d"]
    assert [r.name for r in reminders_due(t, rules, date(2026, 11, 11))] == []  # overdue: the ladder's job
    assert reminders_due(ticket(closed=True), rules, date(2026, 11, 8)) == []


def test_no_reminder_repeats_the_assignment_email_of_the_same_days():
    rules = parse_rules({"reminders": [{"days_before": 2}, {"days_before": 0}]})
    # Assigned the day before it is due: the 2-day reminder's day had come already; the same-day one not.
    t = ticket(due=date(2026, 11, 10), assigned=at_sv(2026, 11, 9, 16))
    assert [r.name for r in reminders_due(t, rules, date(2026, 11, 9))] == []
    assert [r.name for r in reminders_due(t, rules, date(2026, 11, 10))] == ["0d"]


def test_event_alerts_while_tickets_are_open():
    rules = DEFAULT_RULES  # internal date passed; 3 days before the client date
    e = event(client_commitment_date=date(2026, 11, 20), internal_commitment_date=date(2026, 11, 12))
    assert event_alerts_due(e, rules, date(2026, 11, 12)) == []
    assert event_alerts_due(e, rules, date(2026, 11, 13)) == [("event_internal_overdue", 1)]
    assert event_alerts_due(e, rules, date(2026, 11, 17)) == [
        ("event_internal_overdue", 5),
        ("event_client_due", 3),
    ]
    assert event_alerts_due(e, rules, date(2026, 11, 21)) == [("event_internal_overdue", 9)]
    assert event_alerts_due(event(open_tickets=0), rules, date(2026, 11, 17)) == []
    assert event_alerts_due(event(closed=True), rules, date(2026, 11, 17)) == []
    # Opened inside the window: its creator knew; no "3 days before" alert.
    assert event_alerts_due(e, rules, date(2026, 11, 18), opened_day=date(2026, 11, 18)) == [
        ("event_internal_overdue", 6)
    ]


def test_plan_gives_each_message_its_unique_key_and_respects_the_hour():
    org = staff(("resp", "coord"), ("coord", "ger"), ("ger", None), ("creator", None))
    t = ticket(due=date(2026, 11, 10))
    e = event()
    assert plan(at_sv(2026, 11, 17, 6, 59), DEFAULT_RULES, org, [t], [e]) == []
    planned = plan(at_sv(2026, 11, 17, 7, 0), DEFAULT_RULES, org, [t], [e])
    assert sorted((p.key, p.recipient.user_id) for p in planned) == sorted(
        [
            (f"escalation:{t.ticket_id}:general:1", "coord"),
            (f"event-internal:{e.event_id}:2026-11-12", "creator"),
            (f"event-client:{e.event_id}:3d", "creator"),
        ]
    )
    reminder = plan(at_sv(2026, 11, 8), DEFAULT_RULES, org, [t], [])
    assert [(p.key, p.kind, p.days) for p in reminder] == [(f"reminder:{t.ticket_id}:2d", "reminder", 2)]


def test_plan_without_directory_data_sends_what_it_can():
    t = ticket(due=date(2026, 11, 10))
    # The responsible person is not in the staff projection yet: the reminder uses the ticket's data,
    # escalation waits for the manager chain, and the event creator cannot be reached.
    planned = plan(at_sv(2026, 11, 9), DEFAULT_RULES, {}, [t], [event()])
    assert [(p.kind, p.recipient.email) for p in planned] == [("reminder", "resp@edesal.example")]
    assert plan(at_sv(2026, 11, 20), DEFAULT_RULES, {}, [t], [event()]) == []
    # An inactive responsible person gets no reminder; their managers still get the escalation.
    org = staff(("resp", "coord"), ("coord", None), inactive=("resp",))
    assert plan(at_sv(2026, 11, 9), DEFAULT_RULES, org, [t], []) == []
    assert [p.recipient.user_id for p in plan(at_sv(2026, 11, 17), DEFAULT_RULES, org, [t], [])] == ["coord"]


# -- recipients and addresses -------------------------------------------------------------------------------


def test_assignment_recipients_are_the_responsible_person_then_each_cc_person_once():
    juana = Recipient("u-juana", "Juana", "juana@edesal.example")
    ana = Recipient("u-ana", "Ana", "ana@edesal.example")
    ana_alias = Recipient("u-ana2", "Ana (otra cuenta)", "ANA@edesal.example")
    got = assignment_recipients(juana, [ana, juana, ana, ana_alias])
    assert [(r.user_id, role) for r, role in got] == [("u-juana", "to"), ("u-ana", "cc")]


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("juana.perez@edesal.com.sv", None),
        ("u+tag@localhost", None),
        ("", "empty"),
        ("juana perez@edesal.com.sv", "spaces"),
        ("josé@edesal.com.sv", "non-ASCII"),
        ("a@b@c", "exactly one @"),
        ("@edesal.com.sv", "invalid address"),
    ],
)
def test_unusable_addresses_are_recognised(address, problem):
    result = address_problem(address)
    if problem is None:
        assert result is None
    else:
        assert result is not None and problem in result


# -- delivery -----------------------------------------------------------------------------------------------


def test_retries_back_off_exponentially_up_to_a_cap_and_give_up_after_the_limit():
    retry = RetryPolicy(base_s=30, max_s=600, max_attempts=5)
    assert [retry.delay(n) for n in range(1, 7)] == [30, 60, 120, 240, 480, 600]
    now = datetime(2026, 11, 2, tzinfo=UTC)
    t = after_failure(1, False, "451 busy", now, retry)
    assert (t.status, t.next_attempt_at, t.error) == ("retrying", now + timedelta(seconds=30), "451 busy")
    assert after_failure(1, True, "550 no such user", now, retry).status == "failed"
    assert after_failure(1, True, "550 no such user", now, retry).next_attempt_at is None
    gave_up = after_failure(5, False, "451 busy", now, retry)
    assert gave_up.status == "failed" and gave_up.error == "gave up after 5 attempts; last: 451 busy"


def test_5xx_answers_are_permanent_and_4xx_transient():
    assert is_permanent(550) and is_permanent(554) and is_permanent(552)
    assert not is_permanent(450) and not is_permanent(451) and not is_permanent(None)


# -- the message itself -------------------------------------------------------------------------------------


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_the_mime_writer_is_read_back_by_the_standard_library():
    long_line = "Línea muy larga con acentos: " + "áéíóú ñ " * 30 + "fin  "
    subject = "Escalamiento nivel 2 (Gerencia): ticket TCK-2026-000311 vencido hace 14 días — atención"
    raw = build_alternative(
        headers=[
            ("From", format_address("CRM EDESAL", "crm@edesal.example")),
            ("To", format_address('Pérez, "Juana"', "juana@edesal.example")),
            ("Cc", format_address('Smith, "J"', "js@edesal.example")),
            ("Subject", encode_header_text(subject)),
            ("Message-ID", "<abc@edesal.example>"),
        ],
        text=f"Hola\n{long_line}\n. punto al inicio\n",
        html="<p>¡Hola!</p>\n<p>" + "x" * 300 + "</p>",
        boundary="=_crm_test",
    )
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    message = _parse(raw)
    assert str(message["Subject"]) == subject
    assert message["To"].addresses[0].display_name == 'Pérez, "Juana"'
    assert message["Cc"].addresses[0].display_name == 'Smith, "J"'
    # (The parser keeps the CRLF line ends of a message read from the wire.)
    text, html = (part.get_content().replace("\r\n", "\n") for part in message.iter_parts())
    assert text == f"Hola\n{long_line}\n. punto al inicio\n"
    assert html == "<p>¡Hola!</p>\n<p>" + "x" * 300 + "</p>"


def test_composed_messages_in_spanish_with_a_stable_message_id_and_no_mime_for_a_bad_address():
    composer = Composer(mail_from="CRM EDESAL <crm@edesal.example>", web_base_url="https://crm.example/")
    t = ticket(due=date(2026, 11, 10))
    created = datetime(2026, 11, 8, 15, 0, tzinfo=UTC)
    org = staff(("resp", "coord"), ("coord", None))
    [reminder] = plan(at_sv(2026, 11, 10), parse_rules({"reminders": [{"days_before": 0}]}), org, [t], [])
    out = composer.planned(reminder, created)
    assert out.subject == "Recordatorio: el ticket TCK-2026-000001 vence hoy (10/11/2026)"
    assert out.message_id == f"<{out.id}@edesal.example>"
    message = _parse(out.mime)
    assert message["Message-ID"] == out.message_id
    assert message["Date"].datetime == created  # the recording time, the same on every retry
    plain = message.get_body(("plain",))
    assert plain is not None
    assert "https://crm.example/tickets/00000000-0000-0000-0000-000000000001" in plain.get_content()

    [escalation] = plan(at_sv(2026, 11, 17), DEFAULT_RULES, org, [t], [])
    assert composer.planned(escalation, created).subject == (
        "Escalamiento nivel 1 (Coordinación): ticket TCK-2026-000001 vencido hace 7 días"
    )
    bad = composer.assignment(t, [(Recipient("x", "X", "x y@edesal.example"), "to")], uuid.uuid4(), created)[
        0
    ]
    assert bad.status == "failed" and bad.mime == b"" and "spaces" in (bad.last_error or "")
