"""`grids rebalance`: a county formed the old way brought to the targets as one
change-set, with a preview of every SMS, undo, and no member moved twice a year."""

from __future__ import annotations

import json

from sqlalchemy import select

from grids.models import Grid
from tests.support import factories
from tests.support.accounts import make_user


def _old_shaped_village(session) -> None:
    tree = factories.facility_tree(session, prefix="R")
    clinic = tree["clinic_a"]
    doctor = factories.doctor(session, clinic, code="DR1")
    for code, condition, size in (
        ("RV1-HTN01", "hypertension", 9),
        ("RV1-HTN02", "hypertension", 8),
        ("RV1-DM01", "diabetes", 6),
        ("RV1-STK01", "stroke", 3),
        ("RV1-COPD01", "copd", 2),
    ):
        made = factories.grid_with_members(
            session, clinic, size=size, condition=condition, with_doctor=False, code=code
        )
        made.grid.doctor_id = doctor.id
    make_user(session, "bureau", "admin")
    session.commit()


def _open_grids(session) -> dict[str, str]:
    session.expire_all()
    return dict(
        session.execute(select(Grid.code, Grid.condition).where(Grid.closed_at.is_(None))).all()
    )


def _figures(runner) -> dict:
    result = runner.invoke(args=["grids", "form", "--dry-run", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_rebalance_previews_applies_and_undoes(runner, session) -> None:
    _old_shaped_village(session)
    before = _figures(runner)
    assert (before["grids"], before["min_grids"]) == (5, 2)

    refused = runner.invoke(args=["grids", "rebalance", "--dry-run"])
    assert refused.exit_code != 0

    preview = runner.invoke(
        args=["grids", "rebalance", "--dry-run", "--reason", "按新规则", "--format", "json"]
    )
    assert preview.exit_code == 0, preview.output
    document = json.loads(preview.output)
    assert len(document["moves"]) == 11
    templates = [sms["template"] for sms in document["sms"]]
    assert templates.count("sms.admin.member_moved") == 11
    assert "sms.admin.doctor_released" in templates
    assert templates.count("sms.admin.coordinator_joined") == 1  # RV1-HTN02's coordinator
    assert templates.count("sms.admin.doctor_members_joined") == 1
    assert len(_open_grids(session)) == 5

    applied = runner.invoke(
        args=["grids", "rebalance", "--reason", "按新规则", "--actor", "bureau", "--format", "json"]
    )
    assert applied.exit_code == 0, applied.output
    assert _open_grids(session) == {"RV1-HTN01": "hypertension", "RV1-HTN02": "mixed"}
    after = _figures(runner)
    assert (after["grids"], after["small_grids"]) == (2, 0)
    check = json.loads(runner.invoke(args=["grids", "check", "--format", "json"]).output)
    assert [i for i in check["items"] if i["severity"] == "error"] == []

    again = runner.invoke(args=["grids", "rebalance", "--reason", "再来", "--format", "json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["moves"] == []

    change_set = json.loads(applied.output)["change_set"]
    undone = runner.invoke(args=["admin", "undo", str(change_set)])
    assert undone.exit_code == 0, undone.output
    assert len(_open_grids(session)) == 5


def test_a_grid_keeps_its_number_for_its_doctor_when_another_moves_in_or_out(
    runner, session
) -> None:
    tree = factories.facility_tree(session, prefix="N")
    first = factories.doctor(session, tree["clinic_a"], code="DN1")
    other = factories.doctor(session, tree["clinic_a"], code="DN2")
    for code, doctor in (("NV1-HTN02", first), ("NV1-HTN04", first), ("NV1-HTN01", other)):
        made = factories.grid_with_members(
            session, tree["clinic_a"], size=3, with_doctor=False, code=code
        )
        made.grid.doctor_id = doctor.id
    session.commit()
    assert runner.invoke(args=["grids", "form"]).exit_code == 0  # numbers the grids

    def numbers() -> dict[str, int | None]:
        session.expire_all()
        return dict(
            session.execute(
                select(Grid.code, Grid.doctor_number).where(Grid.doctor_id == first.id)
            ).all()
        )

    before = numbers()
    assert set(before.values()) == {1, 2}
    moved = runner.invoke(args=["admin", "move-grid", "NV1-HTN01", "--doctor", "DN1"])
    assert moved.exit_code == 0, moved.output
    after = numbers()
    assert {code: after[code] for code in before} == before  # nobody renumbered
    assert after["NV1-HTN01"] == 3
    out = runner.invoke(args=["admin", "move-grid", "NV1-HTN02", "--doctor", "DN2"])
    assert out.exit_code == 0, out.output
    assert numbers()["NV1-HTN04"] == before["NV1-HTN04"]
