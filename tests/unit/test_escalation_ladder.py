"""The hierarchy graph, the ladder and the timers over hand-built counties: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from grids.escalation.case import CaseRow
from grids.escalation.check import check_hierarchy
from grids.escalation.climb import advance, current_keys, opened
from grids.escalation.hierarchy import (
    CycleRefused,
    DoctorInfo,
    FacilityInfo,
    GridInfo,
    Hierarchy,
    HierarchyError,
    NodeKind,
    NoPath,
    UnknownNode,
    node,
)
from grids.escalation.keys import step_key
from grids.escalation.ladder import Ladder, build_ladder
from grids.escalation.timers import CALL, ESCALATE, WAIT, DeliveryFact, decide

LANDLINE = "+863547654321"
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def mobile(n: int) -> str:
    return f"+86139{n:08d}"


def county(
    *,
    township_phone: str | None = mobile(2),
    county_phone: str | None = mobile(1),
    colleagues: int = 0,
    with_county: bool = True,
) -> Hierarchy:
    """County hospital 1 → township 2 → clinic 3; doctor 10 (+ colleagues); grid 100."""
    facilities = [
        FacilityInfo(
            2, "T1", "义安镇卫生院", "township_center", township_phone, 1 if with_county else None
        ),
        FacilityInfo(3, "V1", "东村卫生室", "village_clinic", mobile(3), 2),
    ]
    if with_county:
        facilities.insert(
            0, FacilityInfo(1, "C", "介休市人民医院", "county_hospital", county_phone)
        )
    doctors = [DoctorInfo(10, "D10", "王医生", mobile(10), 3)]
    doctors += [
        DoctorInfo(11 + i, f"D{11 + i}", f"李医生{i}", mobile(11 + i), 3) for i in range(colleagues)
    ]
    grids = [GridInfo(100, "V1-HTN01", 3, 10, 500)]
    members = [(100, 500 + seat) for seat in range(12)]
    return Hierarchy.build(facilities, doctors, grids, members)


def levels(ladder: Ladder) -> list[str]:
    return [step.level for step in ladder.steps]


# --- the graph ---


def test_the_graph_knows_who_is_above_whom() -> None:
    hierarchy = county(colleagues=2)
    assert [f.code for f in hierarchy.facilities_above(3)] == ["T1", "C"]
    assert [f.code for f in hierarchy.path_from(1, 3)] == ["C", "T1", "V1"]
    assert [d.code for d in hierarchy.doctors_at(3)] == ["D10", "D11", "D12"]
    assert [g.code for g in hierarchy.grids_of(10)] == ["V1-HTN01"]
    assert hierarchy.member_count(100) == 12


def test_an_edge_that_would_make_a_cycle_is_refused() -> None:
    hierarchy = county()
    with pytest.raises(CycleRefused, match="facility C cannot be under facility V1"):
        hierarchy.link(node(NodeKind.FACILITY, 3), node(NodeKind.FACILITY, 1))
    with pytest.raises(CycleRefused):
        hierarchy.link(node(NodeKind.FACILITY, 2), node(NodeKind.FACILITY, 2))
    assert [f.code for f in hierarchy.facilities_above(3)] == ["T1", "C"]


def test_a_facility_cycle_in_the_roster_is_refused_when_building() -> None:
    facilities = [
        FacilityInfo(1, "A", "甲", "township_center", mobile(1), 2),
        FacilityInfo(2, "B", "乙", "township_center", mobile(2), 1),
    ]
    with pytest.raises(CycleRefused, match="a cycle"):
        Hierarchy.build(facilities)


def test_unknown_nodes_and_wrong_directions_get_our_own_errors() -> None:
    hierarchy = county()
    with pytest.raises(UnknownNode, match="grid #999 is not in the hierarchy"):
        hierarchy.add_members([(999, 1)])
    with pytest.raises(UnknownNode):
        hierarchy.grid(12345)
    with pytest.raises(HierarchyError, match="cannot be above"):
        hierarchy.link(node(NodeKind.GRID, 100), node(NodeKind.DOCTOR, 10))
    with pytest.raises(NoPath, match="no path from facility V1 down to facility C"):
        hierarchy.path_from(3, 1)


# --- the ladder ---


def test_the_full_ladder_climbs_doctor_clinic_township_county() -> None:
    ladder = build_ladder(
        county(colleagues=2),
        grid_id=100,
        timeouts={"doctor": 10, "clinic": 5, "township": 15, "county": 20},
    )
    assert levels(ladder) == ["doctor", "clinic", "township", "county"]
    doctor, clinic, township, top = ladder.steps
    assert [c.name for c in doctor.contacts] == ["王医生"]
    assert (doctor.timeout_minutes, doctor.call_after_minutes) == (10, 3)
    assert [c.name for c in clinic.contacts] == ["李医生0", "李医生1"]
    assert clinic.timeout_minutes == 5 and clinic.call_after_minutes is None
    assert (township.facility_name, township.contacts[0].phone) == ("义安镇卫生院", mobile(2))
    assert (top.facility_name, top.timeout_minutes) == ("介休市人民医院", 20)
    assert ladder.facility_ids == (3, 2, 1)
    assert ladder.parallel == ()


def test_a_clinic_with_one_doctor_skips_the_clinic_step() -> None:
    assert levels(build_ladder(county(), grid_id=100)) == ["doctor", "township", "county"]


def test_a_missing_township_phone_is_skipped_and_said() -> None:
    ladder = build_ladder(county(township_phone=None), grid_id=100)
    assert levels(ladder) == ["doctor", "county"]
    assert "no_township_phone" in ladder.problems


def test_a_landline_is_called_instead_of_texted() -> None:
    ladder = build_ladder(county(township_phone=LANDLINE), grid_id=100)
    township = ladder.steps[1]
    assert (township.level, township.contacts[0].channel) == ("township", "voice")


def test_a_doctor_who_cannot_get_sms_is_passed_over() -> None:
    ladder = build_ladder(county(), grid_id=100, can_receive=lambda phone: phone != mobile(10))
    assert levels(ladder) == ["township", "county"]
    assert ladder.doctor_unreachable == "王医生"


def test_no_county_hospital_leaves_a_short_ladder() -> None:
    ladder = build_ladder(county(with_county=False), grid_id=100)
    assert levels(ladder) == ["doctor", "township"]
    assert "no_county_hospital" in ladder.problems


def test_a_red_flag_tells_the_county_hospital_in_parallel() -> None:
    ladder = build_ladder(county(), grid_id=100, red_flag=True, county_duty_phone=mobile(99))
    assert [c.phone for c in ladder.parallel] == [mobile(1)]
    assert ladder.county_duty is not None and ladder.county_duty.phone == mobile(99)


def test_the_ladder_survives_its_json_copy() -> None:
    ladder = build_ladder(
        county(colleagues=1), grid_id=100, red_flag=True, county_duty_phone=mobile(99)
    )
    assert Ladder.from_json(ladder.as_json()) == ladder


# --- the timers ---


def fact(status: str, *, sent: float | None = None, reports: bool = False) -> DeliveryFact:
    return DeliveryFact(
        key="k",
        status=status,
        queued_at=T0,
        sent_at=T0 + timedelta(minutes=sent) if sent is not None else None,
        reports_delivery=reports,
    )


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_the_doctor_step_waits_calls_at_three_minutes_then_times_out() -> None:
    step = build_ladder(county(), grid_id=100).steps[0]
    sent = [fact("sent", sent=1)]
    assert decide(step, sent, at(3.9)).action == WAIT
    assert decide(step, sent, at(4)).action == CALL
    assert decide(step, sent, at(5), called=True).action == WAIT
    timeout = decide(step, sent, at(11), called=True)
    assert (timeout.action, timeout.reason) == (ESCALATE, "timeout")


def test_the_timeout_counts_from_sending_not_queuing() -> None:
    step = build_ladder(county(), grid_id=100).steps[1]
    decision = decide(step, [fact("sent", sent=4)], at(16))
    assert (decision.action, decision.deadline) == (WAIT, at(19))


@pytest.mark.parametrize("status", ["failed", "undelivered", "suppressed"])
def test_a_failed_delivery_escalates_at_once(status: str) -> None:
    step = build_ladder(county(), grid_id=100).steps[1]
    decision = decide(step, [fact(status, sent=0.5)], at(0.6))
    assert (decision.action, decision.reason) == (ESCALATE, "failed")


def test_one_failed_message_of_two_does_not_escalate() -> None:
    step = build_ladder(county(colleagues=2), grid_id=100).steps[1]
    assert decide(step, [fact("failed"), fact("sent", sent=0.5)], at(1)).action == WAIT


def test_no_delivery_report_within_five_minutes_escalates() -> None:
    step = build_ladder(county(), grid_id=100).steps[1]
    waiting = [fact("sent", sent=1, reports=True)]
    assert decide(step, waiting, at(5.9)).action == WAIT
    assert decide(step, waiting, at(6)).reason == "no_report"
    assert decide(step, [fact("delivered", sent=1, reports=True)], at(6)).action == WAIT


def test_a_message_unsent_five_minutes_after_queuing_escalates() -> None:
    step = build_ladder(county(), grid_id=100).steps[1]
    assert decide(step, [fact("pending")], at(4.9)).action == WAIT
    assert decide(step, [fact("sending")], at(5)).reason == "unsent"


def test_an_unanswered_call_escalates_at_once_an_answered_one_waits() -> None:
    step = build_ladder(county(), grid_id=100).steps[0]
    sms = [fact("delivered", sent=1, reports=True)]
    called = [fact("sent", sent=4, reports=True)]
    assert decide(step, sms, at(5), called=True, calls=called).action == WAIT
    no_answer = decide(step, sms, at(5), called=True, calls=[fact("failed", sent=4, reports=True)])
    assert (no_answer.action, no_answer.reason) == (ESCALATE, "call_failed")
    answered = [fact("delivered", sent=4, reports=True)]
    assert decide(step, sms, at(9), called=True, calls=answered).action == WAIT
    assert decide(step, sms, at(11), called=True, calls=answered).reason == "timeout"


def test_a_call_with_no_result_five_minutes_after_placing_escalates() -> None:
    step = build_ladder(county(), grid_id=100).steps[0]
    sms = [fact("delivered", sent=1, reports=True)]
    called = [fact("sent", sent=4, reports=True)]
    assert decide(step, sms, at(8.9), called=True, calls=called).next_check == at(9)
    assert decide(step, sms, at(9), called=True, calls=called).reason == "call_no_report"


# --- grids check ---


def test_check_lists_every_problem_of_the_county() -> None:
    facilities = [
        FacilityInfo(1, "C", "县医院", "county_hospital", LANDLINE),
        FacilityInfo(2, "T1", "镇卫生院", "township_center", None, 1),
        FacilityInfo(3, "V1", "东村", "village_clinic", mobile(3), 2),
        FacilityInfo(4, "T2", "孤镇", "township_center", mobile(4)),
        FacilityInfo(5, "V2", "孤村", "village_clinic", mobile(5), 4),
    ]
    doctors = [DoctorInfo(10, "D10", "王医生", mobile(10), 3)]
    grids = [GridInfo(100 + i, f"G{i:02d}", 3, 10, 1) for i in range(16)]
    grids.append(GridInfo(200, "G-ORPHAN", 5, None, None))
    members = [(100, 1000 + i) for i in range(21)]
    problems = check_hierarchy(Hierarchy.build(facilities, doctors, grids, members))
    found = {(p.code, p.subject) for p in problems if p.severity != "notice"}
    assert found == {
        ("facility_without_phone", "T1"),
        ("facility_landline", "C"),
        ("no_county_path", "V2"),
        ("short_ladder", "V2"),
        ("grid_without_doctor", "G-ORPHAN"),
        ("grid_without_coordinator", "G-ORPHAN"),
        ("grid_over_capacity", "G00"),
        ("doctor_over_capacity", "D10"),
    }


def test_a_sound_county_has_no_problems() -> None:
    assert [p for p in check_hierarchy(county()) if p.severity != "notice"] == []


def test_a_grid_needs_a_coordinator_or_a_deputy_and_lacking_a_deputy_is_only_a_notice() -> None:
    facilities = [
        FacilityInfo(1, "C", "县医院", "county_hospital", mobile(1)),
        FacilityInfo(2, "T1", "镇卫生院", "township_center", mobile(2), 1),
        FacilityInfo(3, "V1", "东村", "village_clinic", mobile(3), 2),
    ]
    doctors = [DoctorInfo(10, "D10", "王医生", mobile(10), 3)]
    grids = [
        GridInfo(100, "G-BOTH", 3, 10, 1, deputy_id=2),
        GridInfo(101, "G-COORD", 3, 10, 3),
        GridInfo(102, "G-DEPUTY", 3, 10, None, deputy_id=4),
        GridInfo(103, "G-NONE", 3, 10, None),
    ]
    problems = check_hierarchy(Hierarchy.build(facilities, doctors, grids, []))
    assert {(p.code, p.severity, p.subject) for p in problems} == {
        ("grid_without_deputy", "notice", "G-COORD"),
        ("grid_without_coordinator", "error", "G-NONE"),
    }


# --- the climb ---


def open_case(**changes: object) -> CaseRow:
    values: dict[str, object] = {
        "id": 17,
        "state": "open",
        "patient_id": 500,
        "params": {"grid": "V1-HTN01", "seat": "3", "code": "K7Q"},
        "step": 0,
        "round": 1,
        "step_started_at": T0,
        "next_step_at": None,
        "called": False,
        "duty_alerted_round": 0,
        "deliveries": {},
        "updated_at": T0,
        "token": 4,
    }
    values.update(changes)
    return CaseRow(**values)  # type: ignore[arg-type]


def test_opening_tells_the_first_step_and_notes_it() -> None:
    ladder = build_ladder(county(colleagues=1), grid_id=100)
    case = open_case()
    climb = opened(case, ladder, T0)
    assert [n.key for n in climb.notices] == [step_key(17, 0, 1, mobile(10), "sms")]
    assert [e["kind"] for e in climb.timeline] == ["opened", "notified"]
    assert climb.case == case


def test_a_timed_out_step_climbs_one_step_and_leaves_its_input_alone() -> None:
    ladder = build_ladder(county(colleagues=1), grid_id=100)
    case = open_case(called=True)
    sent = DeliveryFact(step_key(17, 0, 1, mobile(10), "sms"), "delivered", T0, at(0))
    climb = advance(case, {sent.key: sent}, at(10), ladder=ladder)
    assert climb.changed and (climb.case.step, climb.case.called) == (1, False)
    assert (case.step, case.called, case.deliveries) == (0, True, {})
    assert [e["kind"] for e in climb.timeline] == ["delivered", "escalated", "notified"]
    assert climb.timeline[0]["recipient"] == mobile(10)
    assert [n.key for n in climb.notices] == [step_key(17, 1, 1, mobile(11), "sms")]
    assert current_keys(climb.case, ladder) == [n.key for n in climb.notices]
