"""The six operations applied as change-sets: preview, apply, audit, SMS, conflict, undo."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.admin import operations
from grids.admin.service import AdminError, execute, undo
from grids.audit import ChangeConflict, UndoRefused, change_sets
from grids.core.vocabulary import DoctorStatus, PatientStatus
from grids.escalation.models import Escalation
from grids.escalation.service import EscalationPolicy, open_escalation
from grids.models import ChangeSet, Doctor, Grid, Membership, Patient, UrgentReport
from grids.storage.database import Database
from notifications.models import OutboxMessage
from tests.support import factories
from tests.support.admin import NOW, County, applied_id, county, current_seat, deliver, run


@pytest.fixture
def c(session: Session) -> County:
    built = county(session)
    session.commit()
    return built


def outbox_templates(session: Session) -> list[str]:
    return sorted(session.scalars(select(OutboxMessage.template)))


def test_a_preview_changes_nothing_and_shows_every_sms(session: Session, c: County) -> None:
    version = c.g1.grid.version
    outcome = run(session, operations.move_grid(session, "AV1-HTN01", "DB1"), dry_run=True)
    assert not outcome.applied and outcome.blocking == []
    assert outcome.assignments == [{"grid": "AV1-HTN01", "from": c.d1.code, "to": "DB1"}]
    assert {d["code"]: (d["grids_before"], d["grids_after"]) for d in outcome.doctors} == {
        c.d1.code: (2, 1),
        "DB1": (0, 1),
    }
    assert sorted(n.template for n in outcome.notices) == [
        "sms.admin.coordinator_doctor",
        "sms.admin.doctor_assigned",
        "sms.admin.doctor_released",
    ]
    session.expire_all()
    assert session.get_one(Grid, c.g1.grid.id).doctor_id == c.d1.id
    assert session.get_one(Grid, c.g1.grid.id).version == version
    assert session.scalar(select(func.count()).select_from(ChangeSet)) == 0
    assert outbox_templates(session) == []


def test_moving_a_grid_is_one_change_set_with_expected_and_set_values(
    session: Session, c: County
) -> None:
    outcome = run(session, operations.move_grid(session, "AV1-HTN01", "DB1"))
    assert outcome.applied
    session.expire_all()
    grid = session.get_one(Grid, c.g1.grid.id)
    assert grid.doctor_id == c.d2.id
    [recorded] = change_sets(session)
    assert recorded.actor == "user:bureau" and recorded.operation == "move-grid"
    assert {
        "op": "update",
        "table": "grids",
        "id": grid.id,
        "key": "AV1-HTN01",
        "field": "doctor_id",
        "expected": c.d1.id,
        "set": c.d2.id,
    } in recorded.changes
    assert outbox_templates(session) == [
        "sms.admin.coordinator_doctor",
        "sms.admin.doctor_assigned",
        "sms.admin.doctor_released",
    ]


def test_a_doctor_of_another_township_needs_override_and_a_reason(
    session: Session, c: County
) -> None:
    refused = run(session, operations.move_grid(session, "AV1-HTN01", "DF1"))
    assert [p.code for p in refused.blocking] == ["doctor_elsewhere"]
    assert not refused.applied
    with pytest.raises(AdminError) as error:
        run(session, operations.move_grid(session, "AV1-HTN01", "DF1"), override=True)
    assert error.value.key == "admin.error.override_needs_reason"
    applied = run(
        session,
        operations.move_grid(session, "AV1-HTN01", "DF1"),
        override=True,
        reason="李医生外出进修半年",
    )
    assert applied.applied
    [recorded] = change_sets(session)
    assert recorded.override and recorded.reason == "李医生外出进修半年"


def test_a_new_coordinator_is_told_how_to_report_and_members_who_it_is(
    session: Session, c: County
) -> None:
    member = c.g1.members[5]
    refused = run(session, operations.set_coordinator(session, "AV1-HTN01", member.code))
    assert [p.code for p in refused.blocking] == ["not_a_volunteer"]
    member.volunteer = True
    session.commit()
    outcome = run(session, operations.set_coordinator(session, "AV1-HTN01", member.code))
    assert outcome.applied
    session.expire_all()
    assert session.get_one(Grid, c.g1.grid.id).coordinator_id == member.id
    assert current_seat(session, c.g1.members[1]) == ("AV1-HTN01", 1)  # the old one stays
    templates = outbox_templates(session)
    assert templates.count("sms.admin.coordinator_new") == 1
    assert templates.count("sms.admin.member_coordinator") == 11
    text = session.scalars(
        select(OutboxMessage.body).where(OutboxMessage.template == "sms.admin.coordinator_new")
    ).one()
    assert "AV1-HTN01" in text and "急" in text


def test_a_moved_member_takes_the_lowest_free_seat_and_history_is_kept(
    session: Session, c: County
) -> None:
    moving = c.g1.members[7]
    session.execute(
        Membership.__table__.update()
        .where(Membership.grid_id == c.g2.grid.id, Membership.seat == 4)
        .values(left_at=NOW, left_reason="moved_away")
    )
    session.commit()
    outcome = run(session, operations.move_members(session, [(moving.code, "AV1-HTN02")], NOW))
    assert outcome.moves == [
        {
            "patient": moving.code,
            "from": "AV1-HTN01",
            "from_seat": 7,
            "to": "AV1-HTN02",
            "to_seat": 4,
        }
    ]
    assert current_seat(session, moving) == ("AV1-HTN02", 4)
    history = session.execute(
        select(Membership.grid_id, Membership.left_reason).where(Membership.patient_id == moving.id)
    ).all()
    assert sorted(history, key=str) == sorted(
        [(c.g1.grid.id, "moved"), (c.g2.grid.id, None)], key=str
    )
    assert outbox_templates(session) == ["sms.admin.member_moved"]


def test_a_full_grid_takes_nobody_even_with_override(session: Session, c: County) -> None:
    factories_patient = c.g1.members[8]
    run(session, operations.move_members(session, [(c.g1.members[9].code, "AV1-HTN02")], NOW))
    refused = run(
        session,
        operations.move_members(session, [(factories_patient.code, "AV1-HTN02")], NOW),
        override=True,
        reason="try",
    )
    assert [p.code for p in refused.blocking] == ["grid_full"]


def test_a_split_is_balanced_keeps_the_coordinator_and_names_the_new_grid(
    session: Session, c: County
) -> None:
    c.g2.members[19].volunteer = True
    session.commit()
    outcome = run(session, operations.split(session, "AV1-HTN02", NOW))
    assert outcome.applied
    sizes = {g["code"]: g["members_after"] for g in outcome.grids}
    assert sizes == {"AV1-HTN02": 10, "AV1-HTN03": 9}
    new = session.scalars(select(Grid).where(Grid.code == "AV1-HTN03")).one()
    assert new.doctor_id == c.d1.id
    assert new.coordinator_id == c.g2.members[11].id or new.coordinator_id is not None
    assert current_seat(session, c.g2.members[1]) == ("AV1-HTN02", 1)
    assert outcome.notes == []


def test_a_split_without_a_volunteer_lists_the_new_grid_as_needing_one(
    session: Session, c: County
) -> None:
    outcome = run(session, operations.split(session, "AV1-HTN01", NOW))
    assert [(n.code, n.params["grid"]) for n in outcome.notes] == [
        ("needs_coordinator", "AV1-HTN03")
    ]


def test_merging_more_than_twenty_is_refused_and_a_fitting_merge_moves_everyone(
    session: Session, c: County
) -> None:
    refused = run(session, operations.merge(session, "AV1-HTN02", "AV1-HTN01", NOW))
    assert [p.code for p in refused.blocking] == ["grid_full"]
    small = factories.grid_with_members(session, c.facilities["clinic_a"], size=3, code="AV1-HTN09")
    session.commit()
    outcome = run(session, operations.merge(session, "AV1-HTN01", "AV1-HTN09", NOW))
    assert outcome.applied
    assert [m["to_seat"] for m in outcome.moves] == [13, 14, 15]
    session.expire_all()
    absorbed = session.get_one(Grid, small.grid.id)
    assert absorbed.coordinator_id is None and absorbed.doctor_id is None


def test_retiring_a_doctor_applies_the_edited_suggestion_and_the_open_urgent_report_follows(
    session: Session, c: County
) -> None:
    extra = factories.doctor(session, c.facilities["clinic_a"], code="DA2")
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
    doctor = session.get_one(Doctor, c.d1.id)
    suggestion = operations.retirement_suggestion(session, doctor)
    assert suggestion == {"AV1-HTN01": "DA2", "AV1-HTN02": "DA2"}  # same clinic first
    edited = {"AV1-HTN02": "DB1"}
    outcome = run(session, operations.retire_doctor(session, c.d1.code, assignments=edited))
    assert outcome.applied
    assert {a["grid"]: a["to"] for a in outcome.assignments} == {
        "AV1-HTN01": "DA2",
        "AV1-HTN02": "DB1",
    }
    session.expire_all()
    assert session.get_one(Doctor, c.d1.id).status == DoctorStatus.RETIRED
    forwarded = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.template == "sms.urgent.doctor", OutboxMessage.to_phone == extra.phone
        )
    ).one()
    assert forwarded.urgent and "K7Q" in forwarded.body
    case = session.scalars(select(Escalation).where(Escalation.code == "K7Q")).one()
    assert (case.state, case.step, case.round) == ("open", 0, 2)


def test_deceased_needs_a_date_and_leaves_the_grid(session: Session, c: County) -> None:
    member = c.g1.members[4]
    refused = run(session, operations.set_status(session, member.code, "deceased", NOW))
    assert [p.code for p in refused.blocking] == ["died_on_missing"]
    outcome = run(
        session, operations.set_status(session, member.code, "deceased", NOW, date(2026, 11, 28))
    )
    assert outcome.applied
    session.expire_all()
    patient = session.get_one(Patient, member.id)
    assert patient.status == PatientStatus.DECEASED and patient.died_on == date(2026, 11, 28)
    assert current_seat(session, patient) is None


def test_hospitalised_then_discharged_keeps_the_seat(session: Session, c: County) -> None:
    member = c.g1.members[6]
    run(session, operations.set_status(session, member.code, "hospitalised", NOW))
    run(session, operations.set_status(session, member.code, "discharged", NOW))
    session.expire_all()
    assert session.get_one(Patient, member.id).status == PatientStatus.ACTIVE
    assert current_seat(session, member) == ("AV1-HTN01", 6)


def test_an_apply_after_someone_else_changed_the_grid_is_a_conflict(
    session: Session, c: County, db: Database
) -> None:
    member = c.g1.members[2].code
    preview = run(session, operations.move_grid(session, "AV1-HTN01", "DB1"), dry_run=True)
    with db.unit_of_work() as other:
        run(other, operations.set_status(other, member, "hospitalised", NOW))
    with pytest.raises(ChangeConflict) as conflict:
        run(
            session,
            operations.move_grid(session, "AV1-HTN01", "DB1"),
            expected_versions=preview.versions,
        )
    [found] = conflict.value.conflicts
    assert found.key == "AV1-HTN01" and found.field == "version"
    assert found.changed_by is not None


def test_a_write_between_reading_and_applying_is_a_conflict_and_nothing_is_kept(
    session: Session, c: County, db: Database
) -> None:
    # The target grid's version is checked first and passes; the source grid's fails.
    plan = operations.move_members(session, [(c.g1.members[3].code, "AV1-HTN02")], NOW)
    session.rollback()
    with db.unit_of_work() as other:
        run(other, operations.move_grid(other, "AV1-HTN01", "DB1"))
    with pytest.raises(ChangeConflict):
        execute(session, plan, actor="user:bureau", now=NOW)
    session.rollback()
    assert current_seat(session, c.g1.members[3]) == ("AV1-HTN01", 3)
    assert (
        session.scalar(select(Grid.version).where(Grid.code == "AV1-HTN02"))
        == plan.versions["AV1-HTN02"]
    )
    assert session.scalar(select(func.count()).select_from(ChangeSet)) == 1


def test_undo_restores_the_rows_and_is_itself_audited(session: Session, c: County) -> None:
    moving = c.g1.members[7]
    applied = run(session, operations.move_members(session, [(moving.code, "AV1-HTN02")], NOW))
    outcome = undo(
        session, applied_id(applied.change_set_id), actor="user:bureau", now=NOW, deliver=deliver
    )
    session.commit()
    assert current_seat(session, moving) == ("AV1-HTN01", 7)
    [inverse, original] = change_sets(session)
    assert inverse.undoes_id == original.id and original.undone_by_id == inverse.id
    assert outcome.change_set_id == inverse.id
    with pytest.raises(UndoRefused) as again:
        undo(session, original.id, actor="user:bureau", now=NOW)
    assert again.value.key == "admin.undo.already"


def test_undo_is_refused_when_a_later_change_is_in_the_way(session: Session, c: County) -> None:
    first = run(session, operations.move_grid(session, "AV1-HTN01", "DB1"))
    later = run(session, operations.split(session, "AV1-HTN01", NOW))
    with pytest.raises(UndoRefused) as refused:
        undo(session, applied_id(first.change_set_id), actor="user:bureau", now=NOW)
    assert refused.value.key == "admin.undo.later_change"
    assert refused.value.params["later"] == later.change_set_id
    session.rollback()
    undo(session, applied_id(later.change_set_id), actor="user:bureau", now=NOW)
    session.commit()
    assert session.scalar(select(Grid).where(Grid.code == "AV1-HTN03")) is None
    undo(session, applied_id(first.change_set_id), actor="user:bureau", now=NOW)
    session.commit()
    session.expire_all()
    assert session.get_one(Grid, c.g1.grid.id).doctor_id == c.d1.id


def test_a_township_account_cannot_touch_another_township(session: Session, c: County) -> None:
    from grids.accounts.access import facility_subtree_ids

    scope = facility_subtree_ids(session, c.facilities["township"].id)
    with pytest.raises(AdminError) as error:
        run(
            session,
            operations.move_grid(session, "AV1-HTN01", "DF1"),
            allowed_facilities=scope,
            override=True,
            reason="x",
        )
    assert error.value.key == "admin.error.out_of_scope"
    assert run(
        session, operations.move_grid(session, "AV1-HTN01", "DB1"), allowed_facilities=scope
    ).applied


@pytest.mark.postgres
def test_two_administrators_at_once_one_wins_the_other_gets_a_conflict(
    session: Session, c: County, db: Database
) -> None:
    import threading

    with db.unit_of_work() as first, db.unit_of_work() as second:
        plan_first = operations.move_grid(first, "AV1-HTN01", "DB1")
        plan_second = operations.split(second, "AV1-HTN01", NOW)
        execute(first, plan_first, actor="user:a", now=NOW)  # holds the grid's row lock
        outcome: dict[str, Any] = {}

        def apply_second() -> None:
            try:
                execute(second, plan_second, actor="user:b", now=NOW)
                second.commit()
                outcome["result"] = "applied"
            except ChangeConflict as conflict:
                second.rollback()
                outcome["result"] = conflict.conflicts[0].key

        thread = threading.Thread(target=apply_second)
        thread.start()
        first.commit()
        thread.join(timeout=30)
    assert outcome == {"result": "AV1-HTN01"}
    assert session.scalar(select(func.count()).select_from(ChangeSet)) == 1
    assert session.scalar(select(Grid).where(Grid.code == "AV1-HTN03")) is None
