"""Every command group follows one policy: a database that is not migrated or not reachable
gives one translated line on stderr and exit status 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from flask.testing import FlaskCliRunner

from grids.cli import display_width, render_table
from grids.storage.session import database_of
from i18n import translate
from tests.support.app import make_app

UNREACHABLE = "postgresql+psycopg://huzhu:s3cret@127.0.0.1:1/huzhu"

COMMANDS = [
    ["db", "check"],
    ["roster", "import", "--facilities", "FACILITIES"],
    ["grids", "form"],
    ["grids", "export"],
    ["demo", "--patients", "50", "--directory", "DIR"],
    ["outbox", "list"],
    ["outbox", "numbers"],
    ["outbox", "dispatch", "--once"],
    ["outbox", "send-test", "--to", "13900000009"],
    ["outbox", "unflag", "13900000009"],
    ["sms", "receive", "--from", "13900000009", "好"],
]


def _args(command: list[str], tmp_path: Path) -> list[str]:
    facilities = tmp_path / "facilities.csv"
    facilities.write_text("code,name,level,parent_code,phone\nC1,介休市人民医院,县医院,,\n")
    files = {"FACILITIES": str(facilities), "DIR": str(tmp_path / "demo")}
    return [files.get(word, word) for word in command]


def _one_line(result: click.testing.Result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    if lines and lines[0] == translate("demo.generating", "zh_CN", patients=50, seed=48):
        lines = lines[1:]  # the demo says what it generates before it stores it
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unmigrated_database_is_one_line_saying_to_upgrade(
    command: list[str], tmp_path: Path
) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'empty.db'}")
    result = app.test_cli_runner().invoke(args=_args(command, tmp_path))
    database_of(app).dispose()
    line = _one_line(result)
    assert "flask --app wsgi db upgrade" in line or "db check" in " ".join(command), line
    assert result.stdout == ""


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unreachable_database_is_one_line_naming_it_without_its_password(
    command: list[str], tmp_path: Path
) -> None:
    app = make_app(UNREACHABLE)
    result = app.test_cli_runner().invoke(args=_args(command, tmp_path))
    database_of(app).dispose()
    line = _one_line(result)
    assert line.startswith("无法使用数据库 postgresql+psycopg://huzhu:***@127.0.0.1:1/huzhu"), line
    assert "s3cret" not in result.output


def test_the_line_is_in_the_county_language(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'empty.db'}", default_language="en")
    result = app.test_cli_runner().invoke(args=["outbox", "list"])
    database_of(app).dispose()
    line = _one_line(result)
    assert line.startswith("The database sqlite:///"), line
    assert line.endswith("run flask --app wsgi db upgrade first.")
    assert "no such table: outbox" in line


def test_a_migration_failure_is_one_translated_line(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'empty.db'}")
    result = app.test_cli_runner().invoke(args=["db", "check"])
    database_of(app).dispose()
    assert _one_line(result).startswith(translate("db.error.migration", "zh_CN", reason=""))


def test_tables_align_chinese_text_by_display_width() -> None:
    table = render_table(["名称", "n"], [["介休市人民医院", 1], ["V1", 12]], right={1})
    assert table.splitlines() == [
        "名称             n",
        "介休市人民医院   1",
        "V1              12",
    ]
    assert {display_width(line) for line in table.splitlines()} == {18}


def test_a_rule_under_the_headers_spans_each_column() -> None:
    assert render_table(["编码", "code"], [["甲", None]], rule=True).splitlines() == [
        "编码  code",
        "----  ----",
        "甲",
    ]


def test_a_bad_at_is_one_line_on_stderr(runner: FlaskCliRunner) -> None:
    for args in (
        ["scheduler", "run-once", "report-prompts", "--at", "next tuesday"],
        ["rollups", "snapshot", "--at", "next tuesday"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "next tuesday" in lines[0] and "ISO" in lines[0], lines


@pytest.mark.parametrize(
    "args",
    [
        ["rollups", "show", "--level", "grid", "--code", "NOPE", "--week", "2026-W48"],
        ["users", "token", "nobody"],
        ["escalations", "close", "ZZZ", "--outcome", "home", "--reason", "x"],
        ["scheduler", "run-once", "mainland-reconcile"],
        ["exchanges", "set", "NOPE", "--weekday", "3", "--time", "19:00"],
        ["admin", "undo", "999"],
    ],
    ids=" ".join,
)
def test_a_refused_command_is_its_translated_line_alone(runner: FlaskCliRunner, args) -> None:
    result = runner.invoke(args=args)
    assert result.exit_code != 0, result.output
    [line] = result.stderr.strip().splitlines()
    # Click would put an English `Error: ` first: the line is the catalogue's alone.
    assert not line.startswith("Error"), line
    assert any("\u4e00" <= char <= "\u9fff" for char in line), line
