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
