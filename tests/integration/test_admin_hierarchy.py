"""Operations against `grids check`, a merge closing the grid it empties, and undo telling
people by SMS again: applied as change-sets on the database."""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.admin import browse, operations
from grids.admin.requests import outcome_document
from grids.admin.service import undo
from grids.core.vocabulary import DoctorStatus, PatientStatus
from grids.escalation.check import check_hierarchy
from grids.escalation.roster_graph import load_hierarchy
from grids.escalation.service import EscalationPolicy, open_escalation
from grids.models import ChangeSet, Doctor, Facility, Grid, Patient, UrgentReport
from notifications.models import OutboxMessage
from tests.support import factories
from tests.support.admin import NOW, County, applied_id, county, current_seat, deliver, run


@pytest.fixture
def c(session: Session) -> County:
    built = county(session)
    session.commit()
    return built


def sent(session: Session) -> list[tuple[str, str]]:
    """(template, phone) of every queued SMS."""
    rows = session.execute(select(OutboxMessage.template, OutboxMessage.to_phone)).tuples()
    return sorted(rows)


def check_codes(session: Session) -> set[tuple[str, str]]:
    found = check_hierarchy(load_hierarchy(session, members=True))
    return {(p.code, p.subject) for p in found if p.severity != "notice"}


# --- no new problem for `grids check` ---------------------------------------------------------


def test_recording_a_coordinators_death_is_refused_while_it_would_leave_the_grid_without_one(
    session: Session, c: County
) -> None:
    coordinator = c.g1.members[1]
    plan = operations.set_status(session, coordinator.code, "deceased", NOW, date(2026, 11, 28))
    preview = run(session, plan, dry_run=True)
    assert [(p.code, p.params["subject"]) for p in preview.blocking] == [
        ("check_grid_without_coordinator", "AV1-HTN01")
    ]
    message = outcome_document(preview, "en")["blocking"][0]["message"]
    assert "AV1-HTN01" in message and "set-coordinator" in message  # the problem and the fix
    assert [m["patient"] for m in preview.moves] == [coordinator.code]  # still shown in full

    refused = run(
        session,
        operations.set_status(session, coordinator.code, "deceased", NOW, date(2026, 11, 28)),
    )
    assert not refused.applied and refused.change_set_id is None
    session.expire_all()
    assert session.get_one(Patient, coordinator.id).status == PatientStatus.ACTIVE
    assert current_seat(session, coordinator) == ("AV1-HTN01", 1)
    assert session.scalar(select(func.count()).select_from(ChangeSet)) == 0
    assert sent(session) == []


def test_naming_a_new_coordinator_first_lets_the_death_through_without_override(
    session: Session, c: County
) -> None:
    successor = c.g1.members[5]
    successor.volunteer = True
    session.commit()
    assert run(session, operations.set_coordinator(session, "AV1-HTN01", successor.code)).applied
    before = check_codes(session)
    outcome = run(
        session,
        operations.set_status(session, c.g1.members[1].code, "deceased", NOW, date(2026, 11, 28)),
    )
    assert outcome.applied and outcome.problems == []
    assert check_codes(session) == before


def test_an_override_with_a_reason_applies_it_and_the_change_set_says_so(
    session: Session, c: County
) -> None:
    plan = operations.set_status(session, c.g1.members[1].code, "moved_away", NOW)
    outcome = run(session, plan, override=True, reason="搬去县城，下周推选新网格员")
    assert outcome.applied
    change_set = session.get_one(ChangeSet, applied_id(outcome.change_set_id))
    assert change_set.override and change_set.reason == "搬去县城，下周推选新网格员"
    assert ("grid_without_coordinator", "AV1-HTN01") in check_codes(session)


def test_retiring_the_last_doctor_of_a_clinic_whose_ladder_would_fall_short_is_refused(
    session: Session, c: County
) -> None:
    township = session.get_one(Facility, c.facilities["township"].id)
    township.phone = None  # the clinic's ladder: its doctors, then the county hospital
    session.commit()
    outcome = run(session, operations.retire_doctor(session, c.d1.code))
    assert {a["to"] for a in outcome.assignments} == {"DB1"}
    assert [(p.code, p.params["subject"], p.params["count"]) for p in outcome.blocking] == [
        ("check_short_ladder", "AV1", 1)
    ]
    session.expire_all()
    assert session.get_one(Doctor, c.d1.id).status == DoctorStatus.ACTIVE


def test_a_problem_the_rules_already_name_is_not_listed_twice(session: Session, c: County) -> None:
    lonely = factories.doctor(session, c.far_clinic, code="DF2")
    grid = factories.grid_with_members(session, c.far_clinic, size=4, with_doctor=False)
    grid.grid.doctor_id = lonely.id
    c.d3.status = DoctorStatus.RETIRED
    session.commit()
    outcome = run(session, operations.retire_doctor(session, "DF2"), dry_run=True)
    assert [p.code for p in outcome.blocking] == ["no_doctor_for"]


def test_a_split_without_a_volunteer_is_defined_to_leave_a_grid_needing_one(
    session: Session, c: County
) -> None:
    outcome = run(session, operations.split(session, "AV1-HTN01", NOW))
    assert outcome.applied and outcome.blocking == []
    assert ("grid_without_coordinator", "AV1-HTN03") in check_codes(session)


# --- a merge closes the grid it empties -----------------------------------------------------


def test_a_merge_closes_the_absorbed_grid_and_undo_reopens_it(session: Session, c: County) -> None:
    small = factories.grid_with_members(session, c.facilities["clinic_a"], size=3, code="AV1-HTN09")
    session.commit()
    before = check_codes(session)
    outcome = run(session, operations.merge(session, "AV1-HTN01", "AV1-HTN09", NOW))
    assert outcome.applied and outcome.blocking == []
    assert ("grid_closes", "AV1-HTN09") in [(n.code, n.params["grid"]) for n in outcome.notes]
    session.expire_all()
    absorbed = session.get_one(Grid, small.grid.id)
    assert absorbed.closed_at == NOW
    assert (absorbed.doctor_id, absorbed.coordinator_id) == (None, None)
    assert check_codes(session) == before  # the empty grid is no problem: it is closed
    listed = browse.browse(session, browse.GridFilter(clinic="AV1"))
    assert [r.code for r in listed.rows] == ["AV1-HTN01", "AV1-HTN02"]

    reverted = undo(
        session, applied_id(outcome.change_set_id), actor="user:b", now=NOW, deliver=deliver
    )
    session.commit()
    session.expire_all()
    reopened = session.get_one(Grid, small.grid.id)
    assert reopened.closed_at is None
    assert (reopened.doctor_id, reopened.coordinator_id) == (
        small.doctor.id if small.doctor else None,
        small.coordinator.id,
    )
    assert [current_seat(session, small.members[s]) for s in (1, 2, 3)] == [
        ("AV1-HTN09", 1),
        ("AV1-HTN09", 2),
        ("AV1-HTN09", 3),
    ]
    told = {(n.template, n.recipient_id) for n in reverted.notices}
    assert ("sms.admin.coordinator_new", small.members[1].id) in told
    assert {("sms.admin.member_moved", small.members[s].id) for s in (2, 3)} <= told


def test_a_closed_grid_takes_part_in_no_operation(session: Session, c: County) -> None:
    factories.grid_with_members(session, c.facilities["clinic_a"], size=3, code="AV1-HTN09")
    session.commit()
    run(session, operations.merge(session, "AV1-HTN01", "AV1-HTN09", NOW))
    member = c.g1.members[4].code
    for plan in (
        operations.move_grid(session, "AV1-HTN09", "DB1"),
        operations.move_members(session, [(member, "AV1-HTN09")], NOW),
        operations.split(session, "AV1-HTN09", NOW),
        operations.merge(session, "AV1-HTN09", "AV1-HTN02", NOW),
    ):
        outcome = run(session, plan, override=True, reason="试")
        assert not outcome.applied
        assert "grid_closed" in [p.code for p in outcome.blocking]


# --- undo tells people again -------------------------------------------------------------------


def test_undoing_a_retirement_tells_everyone_again_and_the_urgent_case_returns(
    session: Session, c: County
) -> None:
    stand_in = factories.doctor(session, c.facilities["clinic_a"], code="DA2")
    urgent = UrgentReport(
        code="K7Q",
        grid_id=c.g1.grid.id,
        patient_id=c.g1.members[3].id,
        seat=3,
        text="胸痛",
        received_at=NOW,
    )
    session.add(urgent)
    session.flush()
    open_escalation(session, urgent, NOW, policy=EscalationPolicy(), can_receive=lambda _p: True)
    session.commit()
    retired = run(session, operations.retire_doctor(session, c.d1.code))
    assert retired.applied
    last = session.scalar(select(func.max(OutboxMessage.id)))

    reverted = undo(
        session, applied_id(retired.change_set_id), actor="user:b", now=NOW, deliver=deliver
    )
    session.commit()
    after_undo = session.execute(
        select(OutboxMessage.template, OutboxMessage.to_phone).where(OutboxMessage.id > last)
    ).tuples()
    coordinators = [c.g1.coordinator.phone, c.g2.coordinator.phone]
    assert sorted(after_undo) == sorted(
        [
            ("sms.admin.doctor_assigned", c.d1.phone),
            ("sms.admin.doctor_released", stand_in.phone),
            *(("sms.admin.coordinator_doctor", phone) for phone in coordinators),
            ("sms.urgent.doctor", c.d1.phone),  # the open case climbs from its doctor again
        ]
    )
    key = f"admin:{reverted.change_set_id}:doctor_assigned:doctor:{c.d1.id}"
    text = session.scalar(select(OutboxMessage.body).where(OutboxMessage.idempotency_key == key))
    assert text is not None and "AV1-HTN01" in text
    session.expire_all()
    assert session.get_one(Doctor, c.d1.id).status == DoctorStatus.ACTIVE


def test_undoing_a_move_tells_the_member_their_seat_again(session: Session, c: County) -> None:
    member = c.g1.members[7]
    moved = run(session, operations.move_members(session, [(member.code, "AV1-HTN02")], NOW))
    reverted = undo(
        session, applied_id(moved.change_set_id), actor="user:b", now=NOW, deliver=deliver
    )
    session.commit()
    [notice] = [n for n in reverted.notices if n.recipient_id == member.id]
    assert notice.template == "sms.admin.member_moved"
    assert (notice.params["grid"], notice.params["seat"]) == ("AV1-HTN01", 7)
    assert ("sms.admin.member_moved", member.phone) in sent(session)


@pytest.mark.parametrize("facility_code", [None, "AV1"])
def test_forming_grids_after_a_merge_leaves_the_closed_grid_closed_and_its_code_taken(
    session: Session, c: County, facility_code: str | None
) -> None:
    from grids.formation.service import form_grids_in_database

    clinic = c.facilities["clinic_a"]
    factories.grid_with_members(session, clinic, size=3, code="AV1-HTN09")
    session.commit()
    run(session, operations.merge(session, "AV1-HTN01", "AV1-HTN09", NOW))
    newcomers = [factories.patient(session, clinic) for _ in range(12)]
    session.commit()
    form_grids_in_database(session, facility_code=facility_code, now=NOW)
    session.commit()
    closed = session.scalars(select(Grid).where(Grid.code == "AV1-HTN09")).one()
    assert closed.closed_at is not None
    assert (closed.doctor_id, closed.coordinator_id) == (None, None)
    seats = [current_seat(session, p) for p in newcomers]
    assert all(seat is not None and seat[0] != "AV1-HTN09" for seat in seats)
    codes = set(session.scalars(select(Grid.code).where(Grid.facility_id == clinic.id)))
    assert codes >= {"AV1-HTN01", "AV1-HTN02", "AV1-HTN09"}


def test_a_closed_grid_gets_no_exchange_slot(
    session: Session, c: County, runner: FlaskCliRunner
) -> None:
    factories.grid_with_members(session, c.facilities["clinic_a"], size=3, code="AV1-HTN09")
    session.commit()
    assert run(session, operations.merge(session, "AV1-HTN01", "AV1-HTN09", NOW)).applied
    planned = runner.invoke(args=["exchanges", "plan", "--dry-run", "--format", "json"])
    assert planned.exit_code == 0, planned.output
    assert "AV1-HTN01" in planned.output and "AV1-HTN09" not in planned.output


def test_the_check_around_a_change_finds_what_the_whole_county_check_finds_there(
    session: Session, c: County
) -> None:
    from grids.admin.hierarchy_check import check_around

    c.g2.grid.coordinator_id = None
    lonely = factories.grid_with_members(session, c.far_clinic, size=2, with_doctor=False)
    township = session.get_one(Facility, c.facilities["township"].id)
    township.phone = None
    session.commit()
    around = check_around(session, {c.g2.grid.id, lonely.grid.id}, {c.d1.id})
    whole = {(p.code, p.subject) for p in check_hierarchy(load_hierarchy(session, members=True))}
    scope = {"AV1-HTN01", "AV1-HTN02", lonely.grid.code, c.d1.code, "AV1", "AV9", "AT1", "AT2"}
    assert set(around) <= whole
    assert {found for found in whole if found[1] in scope} <= set(around)
    assert {
        ("grid_without_coordinator", "AV1-HTN02"),
        ("grid_without_doctor", lonely.grid.code),
        ("facility_without_phone", "AT1"),
    } <= set(around)
