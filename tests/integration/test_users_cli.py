from __future__ import annotations

import json

from sqlalchemy import select

from grids.accounts.models import User
from grids.accounts.service import hash_token
from tests.support import factories
from tests.support.accounts import bearer


def test_create_list_token_disable(runner, session, client) -> None:
    tree = factories.facility_tree(session)
    fixture = factories.grid_with_members(session, tree["clinic_a"], size=2)
    session.commit()
    assert fixture.doctor is not None
    doctor_code = fixture.doctor.code

    result = runner.invoke(
        args=[
            "users",
            "create",
            "wang",
            "--role",
            "doctor",
            "--doctor",
            doctor_code,
            "--password-stdin",
        ],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert "wang" in result.output

    listed = runner.invoke(args=["users", "list", "--format", "json"])
    item = json.loads(listed.output)["items"][0]
    assert item["username"] == "wang"
    assert item["role"] == "doctor"
    assert item["scope"] == doctor_code
    assert item["has_token"] is False

    token_result = runner.invoke(args=["users", "token", "wang"])
    assert token_result.exit_code == 0
    token = token_result.output.strip()
    assert "\n" not in token and len(token) >= 40
    stored = session.scalar(select(User.token_hash).where(User.username == "wang"))
    assert stored == hash_token(token) and stored != token
    assert client.get("/api/v1/summary", headers=bearer(token)).status_code == 200

    assert runner.invoke(args=["users", "disable", "wang"]).exit_code == 0
    assert client.get("/api/v1/summary", headers=bearer(token)).status_code == 401


CREATE_TOWNSHIP = ("users", "create", "e", "--role", "township", "--facility")


def test_create_refuses_bad_input_with_a_clear_line(runner, session) -> None:
    factories.facility_tree(session)
    session.commit()
    short = runner.invoke(
        args=["users", "create", "a", "--role", "admin", "--password-stdin"], input="short\n"
    )
    assert short.exit_code != 0
    assert "密码太短" in short.output

    no_scope = runner.invoke(
        args=["users", "create", "b", "--role", "doctor", "--password-stdin"],
        input="a long enough password\n",
    )
    assert no_scope.exit_code != 0
    assert "--doctor" in no_scope.output

    unknown = runner.invoke(
        args=[
            "users",
            "create",
            "c",
            "--role",
            "township",
            "--facility",
            "NOPE",
            "--password-stdin",
        ],
        input="a long enough password\n",
    )
    assert unknown.exit_code != 0
    assert "NOPE" in unknown.output

    # A township account sees what lies under a township or community centre: a county
    # hospital's code would open the whole county, a village clinic's one doctor's grids.
    for facility in ("TC", "TV1"):
        wrong = runner.invoke(
            args=[*CREATE_TOWNSHIP, facility, "--password-stdin"],
            input="a long enough password\n",
        )
        assert wrong.exit_code == 1, facility
        assert wrong.stderr.strip() == (
            f"“{facility}”不是乡镇卫生院或社区卫生服务中心：乡镇账号的 --facility 请用卫生院编码。"
        )
    assert session.scalar(select(User.username).where(User.username == "e")) is None

    runner.invoke(
        args=["users", "create", "d", "--role", "admin", "--password-stdin"],
        input="a long enough password\n",
    )
    again = runner.invoke(
        args=["users", "create", "d", "--role", "admin", "--password-stdin"],
        input="a long enough password\n",
    )
    assert again.exit_code != 0
    assert "已存在" in again.output
    assert session.scalar(select(User.username).where(User.username == "c")) is None


def test_token_for_unknown_user_fails(runner) -> None:
    result = runner.invoke(args=["users", "token", "ghost"])
    assert result.exit_code != 0
    assert "ghost" in result.output
