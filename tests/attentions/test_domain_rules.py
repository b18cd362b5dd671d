"""The rules of domain/ as plain functions: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from atn_support import STAFF_CSV, pdf_bytes
from attentions.domain import access, closure, codes, dates
from attentions.domain.attachments import check_pdf, safe_filename
from attentions.domain.errors import RuleBroken
from attentions.domain.staff import StaffRecord, check_managers, manager_cycle, parse_staff_csv

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def broken(call, *args) -> RuleBroken:
    with pytest.raises(RuleBroken) as info:
        call(*args)
    return info.value


def pairs(exc: RuleBroken) -> set[tuple[str, str]]:
    return {(v.field, v.rule) for v in exc.violations}


# -- dates ------------------------------------------------------------------------------------------------


def test_internal_commitment_must_be_strictly_before_client_commitment():
    dates.check_event_dates(date(2026, 4, 9), date(2026, 4, 10))
    for internal in (date(2026, 4, 10), date(2026, 4, 11)):
        exc = broken(dates.check_event_dates, internal, date(2026, 4, 10))
        assert pairs(exc) == {
            ("internal_commitment_date", "internal_before_client_commitment"),
            ("client_commitment_date", "internal_before_client_commitment"),
        }
        assert exc.kind == "invalid"
        assert "internal_commitment_date" in exc.detail and "client_commitment_date" in exc.detail


def test_ticket_may_be_due_on_but_not_after_the_internal_commitment():
    dates.check_ticket_due_date(date(2026, 4, 10), date(2026, 4, 10))
    dates.check_ticket_due_date(date(2026, 1, 1), date(2026, 4, 10))
    exc = broken(dates.check_ticket_due_date, date(2026, 4, 11), date(2026, 4, 10))
    assert pairs(exc) == {("due_date", "due_not_after_internal_commitment")}


# -- closure ----------------------------------------------------------------------------------------------


def test_event_closes_only_when_open_and_without_open_tickets():
    closure.check_event_can_close("open", 0)
    exc = broken(closure.check_event_can_close, "open", 3)
    assert exc.kind == "conflict" and pairs(exc) == {("event_id", "tickets_still_open")}
    assert exc.violations[0].extra == {"open_tickets": 3}
    assert pairs(broken(closure.check_event_can_close, "closed", 0)) == {("event_id", "event_closed")}


def test_attention_closes_only_when_open_and_without_open_events():
    closure.check_attention_can_close("open", 0)
    assert pairs(broken(closure.check_attention_can_close, "open", 1)) == {
        ("attention_id", "events_still_open")
    }
    assert pairs(broken(closure.check_attention_can_close, "closed", 0)) == {
        ("attention_id", "attention_closed")
    }


def test_ticket_status_follows_the_newest_report_only():
    later = T0 + timedelta(minutes=5)
    assert closure.ticket_status_after(None, "closed", T0, "open") == "closed"
    assert closure.ticket_status_after(T0, "open", later, "open") == "open"
    # an older change arriving after a newer one is ignored, and so is the same change twice
    assert closure.ticket_status_after(later, "closed", T0, "open") is None
    assert closure.ticket_status_after(T0, "closed", T0, "open") is None


def test_reopen_never_applies_under_a_closed_event():
    assert closure.ticket_status_after(T0, "open", T0 + timedelta(days=1), "closed") is None
    assert closure.ticket_status_after(T0, "closed", T0 + timedelta(days=1), "closed") == "closed"


# -- access -----------------------------------------------------------------------------------------------


def test_clients_are_visible_to_their_access_list_and_admins_suministros_to_all():
    agent, admin = access.Viewer("u-ana", False), access.Viewer("u-admin", True)
    assert access.may_see_client(agent, on_access_list=True)
    assert not access.may_see_client(agent, on_access_list=False)
    assert access.may_see_client(admin, on_access_list=False)
    assert access.may_see_subject(agent, "supply_point", on_access_list=False)
    assert not access.may_see_subject(agent, "client", on_access_list=False)


def test_creator_heads_the_access_list_without_repeats():
    assert access.initial_access_list("u-ana", ["u-beto", "u-ana", "u-beto", "u-carla"]) == [
        "u-ana",
        "u-beto",
        "u-carla",
    ]


# -- codes ------------------------------------------------------------------------------------------------


def test_codes_have_their_documented_shape():
    assert codes.client_code(42) == "CLI-000042"
    assert codes.yearly_code("ATN", 2026, 123) == "ATN-2026-000123"
    assert codes.yearly_code("TCK", 2026, 1_234_567) == "TCK-2026-1234567"
    assert codes.YEARLY_CODE.match("EVT-2026-000077")
    with pytest.raises(ValueError):
        codes.yearly_code("XXX", 2026, 1)


def test_code_year_is_the_local_year_in_el_salvador():
    tz = ZoneInfo("America/El_Salvador")
    # 2027-01-01 03:00 UTC is still 31 December 2026 in San Salvador (UTC-6)
    assert codes.code_year(datetime(2027, 1, 1, 3, tzinfo=UTC), tz) == 2026
    assert codes.code_year(datetime(2027, 1, 1, 7, tzinfo=UTC), tz) == 2027


# -- attachments ------------------------------------------------------------------------------------------


def test_a_real_pdf_passes_with_its_checksum_and_pages():
    content = pdf_bytes()
    checked = check_pdf(content, 1_000_000)
    assert checked.pages == 1 and checked.size_bytes == len(content) and len(checked.sha256) == 64


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"", "not_empty"),
        (b"GIF89a not a pdf", "pdf_content"),
        (b"%PDF-1.7\nthis is not really a pdf at all", "pdf_content"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 100, "pdf_content"),
    ],
    ids=["empty", "gif", "magic-only", "png"],
)
def test_files_that_are_not_readable_pdfs_are_refused(content: bytes, rule: str):
    assert pairs(broken(check_pdf, content, 1_000_000)) == {("file", rule)}


def test_files_over_the_limit_are_refused_as_too_large():
    exc = broken(check_pdf, pdf_bytes(padding=5000), 4096)
    assert exc.kind == "too_large" and pairs(exc) == {("file", "max_size")}


def test_attachment_names_lose_paths_and_odd_characters():
    assert safe_filename("C:\\Users\\ana\\carta.pdf") == "carta.pdf"
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename('a"b<c>.pdf') == "abc.pdf"
    assert safe_filename(None) == "document.pdf"


# -- staff ------------------------------------------------------------------------------------------------


def test_staff_csv_parses_roles_flags_and_managers():
    records = parse_staff_csv(STAFF_CSV)
    by_id = {r.user_id: r for r in records}
    assert by_id["u-admin"].roles == ("admin",) and by_id["u-admin"].manager_id is None
    assert by_id["u-ana"].manager_id == "u-gerente" and by_id["u-old"].active is False


def test_staff_csv_names_every_broken_row_and_returns_nothing():
    text = (
        "user_id,name,email,area,manager_id,roles,active\n"
        "u-1,Uno,uno@edesal.test,Comercial,,agent,true\n"
        "u-2,,not-an-email,Comercial,,superuser,maybe\n"
        "u-1,Uno bis,uno@edesal.test,Comercial,,agent,true\n"
    )
    exc = broken(parse_staff_csv, text)
    assert pairs(exc) == {
        ("rows[2].name", "required"),
        ("rows[2].email", "email_format"),
        ("rows[2].roles", "known_roles"),
        ("rows[2].active", "boolean"),
        ("rows[3].user_id", "unique"),
    }
    assert pairs(broken(parse_staff_csv, "name,email\nx,y@z\n")) == {("file", "csv_columns")}


def test_escalation_chain_must_not_loop_and_managers_must_exist():
    assert manager_cycle({"a": "b", "b": "c", "c": None}) is None
    cycle = manager_cycle({"a": "b", "b": "c", "c": "a"})
    assert cycle is not None and set(cycle) == {"a", "b", "c"}
    records = [StaffRecord("x", "X", "x@e.test", "A", manager_id="ghost")]
    assert {(v.field, v.rule) for v in check_managers(records, {}, {"x": "manager_id"})} == {
        ("manager_id", "manager_exists")
    }
    loop = [StaffRecord("a", "A", "a@e.test", "A", manager_id="b")]
    violations = check_managers(loop, {"b": "a"}, {"a": "manager_id"})
    assert {v.rule for v in violations} == {"no_manager_cycle"}
