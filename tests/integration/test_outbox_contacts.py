"""Per-number SMS state: opted out, back in, flagged invalid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from notifications import contacts

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
PHONE = "+8613912345678"
OTHER = "+8613912345679"


def test_a_number_that_opted_out_is_opted_out_until_it_opts_in(session: Session) -> None:
    assert contacts.is_opted_out(session, PHONE) is False
    contacts.opt_out(session, PHONE, "退订", NOW)
    session.commit()
    assert contacts.is_opted_out(session, PHONE) is True
    assert contacts.is_opted_out(session, OTHER) is False
    contacts.opt_in(session, PHONE, NOW + timedelta(days=1))
    session.commit()
    assert contacts.is_opted_out(session, PHONE) is False
    assert contacts.flagged_numbers(session) == []


def test_opting_out_twice_keeps_the_latest_keyword(session: Session) -> None:
    contacts.opt_out(session, PHONE, "STOP", NOW)
    contacts.opt_out(session, PHONE, "provider:21610", NOW + timedelta(hours=1))
    session.commit()
    [contact] = contacts.flagged_numbers(session)
    assert contact.opt_out_keyword == "provider:21610"
    assert contact.opted_out_at == NOW + timedelta(hours=1)


def test_invalid_numbers_are_flagged_for_the_administrator(session: Session) -> None:
    contacts.mark_invalid(session, PHONE, "21614", NOW)
    contacts.opt_out(session, OTHER, "STOP", NOW + timedelta(minutes=1))
    session.commit()
    flagged = contacts.flagged_numbers(session)
    assert [c.phone for c in flagged] == [OTHER, PHONE]
    assert flagged[1].invalid_code == "21614"
    assert contacts.unreachable_numbers(session, [PHONE, OTHER, "+8613900000000"]) == {
        PHONE: "invalid",
        OTHER: "opted_out",
    }
    contacts.clear_invalid(session, PHONE, NOW)
    session.commit()
    assert contacts.is_invalid(session, PHONE) is False
    assert [c.phone for c in contacts.flagged_numbers(session)] == [OTHER]


def test_opting_in_does_not_clear_an_invalid_flag(session: Session) -> None:
    contacts.mark_invalid(session, PHONE, "21211", NOW)
    contacts.opt_in(session, PHONE, NOW)
    session.commit()
    assert contacts.unreachable_numbers(session, [PHONE]) == {PHONE: "invalid"}
