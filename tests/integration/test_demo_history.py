"""`flask demo` plays twelve weeks of history through the inbound handler and prints logins."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from grids.accounts.models import User
from grids.demo.logins import DEMO_PASSWORD
from grids.models import UrgentReport, WeeklyReport
from notifications.models import InboundMessage
from tests.support.accounts import log_in


def test_demo_history_gives_the_doctor_a_county_at_work(runner, session, client, tmp_path: Path):
    result = runner.invoke(args=["demo", "--patients", "600", "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert DEMO_PASSWORD in result.output
    outcomes = dict(
        session.execute(
            select(InboundMessage.outcome, func.count()).group_by(InboundMessage.outcome)
        ).all()
    )
    assert set(outcomes) == {"applied"}, outcomes
    weeks = session.scalar(select(func.count(func.distinct(WeeklyReport.week))))
    assert weeks >= 11
    urgent = session.execute(select(func.count(), func.count(UrgentReport.acknowledged_at))).one()
    assert urgent[0] >= 4 and urgent[1] >= 3
    roles = dict(session.execute(select(User.username, User.role)).all())
    assert roles == {"admin": "admin", "township": "township", "doctor": "doctor"}

    log_in(client, "doctor", DEMO_PASSWORD)
    page = client.get("/home", follow_redirects=True)
    assert page.status_code == 200
    assert "<svg" in page.get_data(as_text=True)

    again = runner.invoke(args=["demo", "--patients", "600", "--directory", str(tmp_path)])
    assert again.exit_code == 0
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == sum(
        outcomes.values()
    )


def test_the_whole_county_has_history_passes_grids_check_and_does_not_replay_the_past(
    runner, session, tmp_path: Path
) -> None:
    from grids.models import Grid
    from scheduling.models import SchedulerRun

    result = runner.invoke(args=["demo", "--patients", "1500", "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "sms receive --coordinator-of" in result.output

    grids = session.scalar(select(func.count()).select_from(Grid))
    with_history = session.scalar(select(func.count(func.distinct(WeeklyReport.grid_id))))
    assert with_history == grids
    check = runner.invoke(args=["grids", "check"])
    assert check.exit_code == 0, check.output
    marked = set(
        session.scalars(select(SchedulerRun.job_id).where(SchedulerRun.slot == "demo-load"))
    )
    assert {"exchange-reminders", "attendance-prompts", "report-prompts"} <= marked


def test_the_try_it_grid_belongs_to_the_doctor_login(runner, session, tmp_path: Path) -> None:
    from grids.models import Doctor, Grid

    result = runner.invoke(args=["demo", "--patients", "600", "--directory", str(tmp_path)])
    line = next(line for line in result.output.splitlines() if "--coordinator-of" in line)
    grid_code = line.split("--coordinator-of ")[1].split()[0]
    user = session.scalars(select(User).where(User.username == "doctor")).one()
    grid = session.scalars(select(Grid).where(Grid.code == grid_code)).one()
    assert session.get(Doctor, grid.doctor_id).id == user.doctor_id
