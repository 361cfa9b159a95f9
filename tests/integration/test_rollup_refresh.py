"""`rollups-refresh`: the current week's provisional snapshot, recounting only the grids
whose rows changed, with totals that always equal a full recount."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import or_, select, update
from sqlalchemy.orm import undefer

from grids.models import (
    ExchangeAttendance,
    Grid,
    MemberReport,
    Membership,
    Patient,
    Reading,
    UrgentReport,
    WeeklyReport,
)
from grids.rollups.models import RollupRefresh, RollupSnapshot
from grids.rollups.period import WeekPeriod
from grids.rollups.refresh import refresh_week
from grids.rollups.service import compute_week, snapshot_week
from tests.support import factories
from tests.support import rollup_fixture as fx

TZ = ZoneInfo("Asia/Shanghai")
PERIOD = WeekPeriod("2026-W49", TZ)
START = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # Wednesday 10:00 of W49
STEP = timedelta(minutes=15)


@pytest.fixture
def county(session):
    """The worked-example county, plus a second county of four grids (two doctors)."""
    built = fx.build(session)
    tree = factories.facility_tree(session, prefix="S")
    for clinic in ("clinic_a", "clinic_a", "clinic_b", "clinic_b"):
        factories.grid_with_members(session, tree[clinic], size=6)
    session.execute(
        update(Membership).where(Membership.left_at.is_(None)).values(joined_at=fx.LONG_AGO)
    )
    session.commit()
    return built


def stored(session) -> dict[tuple[str, str], dict]:
    return {
        (row.level, row.code): row.indicators
        for row in session.scalars(
            select(RollupSnapshot).where(
                RollupSnapshot.week == PERIOD.week, RollupSnapshot.provisional.is_(True)
            )
        )
    }


def assert_equals_a_full_recount(session, now: datetime) -> None:
    full = compute_week(session, PERIOD, now)
    assert stored(session) == full.values


def grids_in_week(session, patient_id: int) -> set[int]:
    return set(
        session.scalars(
            select(Membership.grid_id).where(
                Membership.patient_id == patient_id,
                Membership.joined_at < PERIOD.end,
                or_(Membership.left_at.is_(None), Membership.left_at >= PERIOD.start),
            )
        )
    )


def open_case_grids(session) -> set[int]:
    return set(
        session.scalars(
            select(UrgentReport.grid_id).where(
                UrgentReport.received_at >= PERIOD.start, UrgentReport.acknowledged_at.is_(None)
            )
        )
    )


class Changes:
    """Random changes of the kinds the county's SMS and administrators make."""

    def __init__(self, session, rng: random.Random) -> None:
        self.session = session
        self.rng = rng
        self.codes = 0

    def members(self) -> list[Membership]:
        return list(
            self.session.scalars(
                select(Membership).where(Membership.left_at.is_(None)).order_by(Membership.id)
            )
        )

    def apply(self, now: datetime) -> set[int]:
        """Make one change at `now`; the grids it touches."""
        kind = self.rng.choice(
            ["reading", "report", "flag", "attendance", "urgent", "ack", "move", "death"]
        )
        membership = self.rng.choice(self.members())
        patient_id, grid_id = membership.patient_id, membership.grid_id
        week = PERIOD.week
        if kind == "reading":
            existing = self.session.scalar(
                select(Reading).where(
                    Reading.patient_id == patient_id, Reading.week == week, Reading.kind == "bp"
                )
            )
            systolic = self.rng.choice([120, 150, 185])
            if existing is None:
                self.session.add(
                    Reading(
                        patient_id=patient_id,
                        grid_id=grid_id,
                        week=week,
                        kind="bp",
                        systolic=systolic,
                        diastolic=80,
                        reported_at=now,
                    )
                )
            else:
                existing.systolic, existing.reported_at = systolic, now
        elif kind in ("report", "flag"):
            report = self.session.scalar(
                select(WeeklyReport).where(
                    WeeklyReport.grid_id == grid_id, WeeklyReport.week == week
                )
            )
            if report is None:
                report = WeeklyReport(
                    grid_id=grid_id, week=week, first_received_at=now, last_received_at=now
                )
                self.session.add(report)
            report.all_stable = kind == "report" and self.rng.random() < 0.5
            report.last_received_at = now
            self.session.flush()
            if kind == "flag":
                named = self.session.scalar(
                    select(MemberReport).where(
                        MemberReport.weekly_report_id == report.id,
                        MemberReport.patient_id == patient_id,
                    )
                )
                if named is None:
                    self.session.add(
                        MemberReport(
                            weekly_report_id=report.id,
                            patient_id=patient_id,
                            week=week,
                            seat=membership.seat,
                            hospitalised=True,
                            updated_at=now,
                        )
                    )
                else:
                    named.missed_medication = True
                    named.updated_at = now
            if kind == "flag":
                return {grid_id} | grids_in_week(self.session, patient_id)
            return {grid_id}
        elif kind == "attendance":
            row = self.session.scalar(
                select(ExchangeAttendance).where(
                    ExchangeAttendance.grid_id == grid_id, ExchangeAttendance.week == week
                )
            )
            if row is None:
                self.session.add(
                    ExchangeAttendance(grid_id=grid_id, week=week, headcount=3, reported_at=now)
                )
            else:
                row.headcount, row.reported_at = row.headcount + 1, now
            return {grid_id}
        elif kind == "urgent":
            self.codes += 1
            acknowledged = self.rng.random() < 0.5
            self.session.add(
                UrgentReport(
                    code=f"Z{self.codes:02d}",
                    grid_id=grid_id,
                    patient_id=patient_id,
                    text="胸痛",
                    received_at=now - timedelta(minutes=3),
                    acknowledged_at=now if acknowledged else None,
                )
            )
        elif kind == "ack":
            case = self.session.scalar(
                select(UrgentReport).where(UrgentReport.acknowledged_at.is_(None)).limit(1)
            )
            if case is None:
                return set()
            case.acknowledged_at = now
            return {case.grid_id}
        elif kind == "move":
            others = [m for m in self.members() if m.grid_id != grid_id]
            target = self.rng.choice(others).grid_id
            taken = set(
                self.session.scalars(
                    select(Membership.seat).where(
                        Membership.grid_id == target, Membership.left_at.is_(None)
                    )
                )
            )
            membership.left_at = now
            self.session.flush()
            seat = min(set(range(1, 21)) - taken)
            self.session.add(
                Membership(grid_id=target, patient_id=patient_id, seat=seat, joined_at=now)
            )
            return {grid_id, target}
        elif kind == "death":
            patient = self.session.get(Patient, patient_id)
            patient.died_on = date(2026, 12, 1)
        self.session.flush()
        return grids_in_week(self.session, patient_id) | {grid_id}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_incremental_refresh_recounts_only_changed_grids_and_equals_a_full_recount(
    session, county, seed
) -> None:
    first = refresh_week(session, PERIOD, START)
    session.commit()
    assert first is not None and first.full
    assert_equals_a_full_recount(session, START)
    grids = len(session.scalars(select(Grid.id)).all())
    assert first.grids == grids == 7

    changes = Changes(session, random.Random(seed))
    now = START
    for _ in range(8):
        now += STEP
        touched = changes.apply(now - timedelta(minutes=1))
        session.commit()
        expected = touched | open_case_grids(session)
        outcome = refresh_week(session, PERIOD, now)
        session.commit()
        assert outcome is not None and not outcome.full
        assert outcome.grids == len(expected)
        assert_equals_a_full_recount(session, now)
    state = session.scalar(select(RollupRefresh))
    assert state is not None and state.computed_at == now and state.full_at == START


def test_a_refresh_with_nothing_changed_writes_nothing(session, county) -> None:
    refresh_week(session, PERIOD, START)
    session.commit()
    before = stored(session)
    outcome = refresh_week(session, PERIOD, START + STEP)
    session.commit()
    assert outcome is not None and not outcome.full
    assert (outcome.grids, outcome.written) == (0, 0)
    assert stored(session) == before


def test_an_open_urgent_case_is_recounted_as_the_clock_runs(session, county) -> None:
    grid = county.grids["A"]
    session.add(
        UrgentReport(
            code="Z99",
            grid_id=grid.id,
            patient_id=county.patients["a1"].id,
            text="胸痛",
            received_at=START - timedelta(minutes=2),
        )
    )
    session.commit()
    refresh_week(session, PERIOD, START)
    session.commit()
    assert stored(session)[("grid", grid.code)]["urgent_past_doctor"] == 0
    outcome = refresh_week(session, PERIOD, START + STEP)
    session.commit()
    assert outcome is not None and outcome.grids == 1
    # Ten minutes without the doctor: past the doctor now, up to the county.
    assert stored(session)[("grid", grid.code)]["urgent_past_doctor"] == 1
    assert stored(session)[("county", county.codes["county"])]["urgent_past_doctor"] == 1
    assert_equals_a_full_recount(session, START + STEP)


def test_a_grid_moved_to_another_doctor_means_a_full_recount(session, county) -> None:
    refresh_week(session, PERIOD, START)
    session.commit()
    grid = county.grids["C"]
    grid.doctor_id = session.scalar(select(Grid.doctor_id).where(Grid.code == "R-A"))
    session.commit()
    outcome = refresh_week(session, PERIOD, START + STEP)
    session.commit()
    assert outcome is not None and outcome.full
    assert ("doctor", county.codes["d2"]) not in stored(session)  # RD2 has no grid left
    assert_equals_a_full_recount(session, START + STEP)


def test_the_job_is_registered_and_idempotent(runner, session, county) -> None:
    listed = json.loads(runner.invoke(args=["scheduler", "jobs", "--format", "json"]).output)
    job = next(item for item in listed["items"] if item["id"] == "rollups-refresh")
    assert "15 min" in job["schedule"] and job["next_run"]

    at = "2026-12-02T10:00:00+08:00"
    first = runner.invoke(args=["scheduler", "run-once", "rollups-refresh", "--at", at])
    assert first.exit_code == 0, first.output
    assert "2026-W49 full: 7 grids counted" in first.output
    after_first = stored(session)
    again = runner.invoke(args=["scheduler", "run-once", "rollups-refresh", "--at", at])
    assert again.exit_code == 0 and "已运行过" in again.output
    later = runner.invoke(
        args=["scheduler", "run-once", "rollups-refresh", "--at", "2026-12-02T10:15:00+08:00"]
    )
    assert later.exit_code == 0, later.output
    assert "incremental: 0 grids counted, 0 rows stored" in later.output
    session.expire_all()
    assert stored(session) == after_first


def test_the_interval_is_a_setting(app) -> None:
    from config.settings import SettingsError, load_settings
    from scheduling.registry import spec_of

    spec = spec_of("rollups-refresh")
    ten = load_settings({"ROLLUPS_REFRESH_MINUTES": "10"})
    assert spec.trigger_for(ten) == {"cron": {"minute": "*/10"}}
    at = datetime(2026, 12, 2, 2, 27, tzinfo=UTC)
    assert spec.slot(at, TZ, ten) == "2026-12-02T10:20"
    assert spec.slot(at, TZ, load_settings({})) == "2026-12-02T10:15"
    with pytest.raises(SettingsError, match="ROLLUPS_REFRESH_MINUTES"):
        load_settings({"ROLLUPS_REFRESH_MINUTES": "7"})


def test_the_monday_snapshot_makes_the_provisional_rows_the_weeks_figures(session, county) -> None:
    refresh_week(session, PERIOD, START)
    session.commit()
    # A subject that was counted during the week but is gone by Monday (its row goes).
    session.add(
        RollupSnapshot(
            week=PERIOD.week,
            level="grid",
            code="GONE",
            indicators={},
            computed_at=START,
            first_computed_at=START,
            revisions=3,
            provisional=True,
        )
    )
    session.commit()
    monday = PERIOD.end + timedelta(hours=2)

    created, revised = snapshot_week(session, PERIOD, monday)
    session.commit()

    final = compute_week(session, PERIOD, monday).values
    assert (created, revised) == (len(final), 0)
    rows = session.scalars(
        select(RollupSnapshot)
        .where(RollupSnapshot.week == PERIOD.week)
        .options(undefer(RollupSnapshot.parts))
    ).all()
    assert {(row.level, row.code): row.indicators for row in rows} == final
    assert all(
        not row.provisional
        and row.parts is None
        and row.revisions == 1
        and row.first_computed_at == row.computed_at == monday
        for row in rows
    )
    assert session.scalar(select(RollupRefresh).where(RollupRefresh.week == PERIOD.week)) is None

    # Run again with nothing new: nothing is revised; a change revises only its subject.
    assert snapshot_week(session, PERIOD, monday + STEP) == (0, 0)
    level, code = next(key for key in final if key[0] == "county")
    subject = (
        RollupSnapshot.week == PERIOD.week,
        RollupSnapshot.level == level,
        RollupSnapshot.code == code,
    )
    session.execute(update(RollupSnapshot).where(*subject).values(indicators={"members": -1}))
    session.commit()
    assert snapshot_week(session, PERIOD, monday + 2 * STEP) == (0, 1)
    session.commit()
    row = session.scalars(select(RollupSnapshot).where(*subject)).one()
    assert (row.revisions, row.indicators) == (2, final[(level, code)])
    assert row.computed_at == monday + 2 * STEP and row.first_computed_at == monday
