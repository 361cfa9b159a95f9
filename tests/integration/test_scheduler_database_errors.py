"""`scheduler run|run-once|jobs` on a database that is not migrated or not reachable: one
translated line on stderr and exit status 1 at once, never a traceback."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import click
import pytest

from config.runtime import settings_of
from grids.storage.session import database_of
from i18n import translate
from notifications.providers import provider_of
from scheduling.job_ids import OUTBOX_DISPATCH, REPORT_PROMPTS
from scheduling.process import SchedulerProcess
from scheduling.registry import JOB_IDS, spec_of
from tests.support.app import make_app
from tests.support.mainland import aliyun_settings, write_template_map

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/x"
UNREACHABLE_LINE = translate(
    "cli.error.database_unreachable", "zh_CN", url=UNREACHABLE, reason=""
).split("：")[0]
UPGRADE = "flask --app wsgi db upgrade"
COMMANDS = [["scheduler", "run-once", job] for job in JOB_IDS] + [["scheduler", "jobs"]]


def _url(kind: str, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'empty.db'}" if kind == "unmigrated" else UNREACHABLE


def _expect(kind: str, line: str) -> None:
    if kind == "unmigrated":
        assert UPGRADE in line and "no such table: scheduler_" in line, line
    else:
        assert line.startswith(UNREACHABLE_LINE), line


def _one_line(result: click.testing.Result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("kind", ["unmigrated", "unreachable"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_scheduler_command_on_a_bad_database_is_one_line(
    command: list[str], kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A mainland provider, so that mainland-reconcile is scheduled and reaches the database.
    mainland = aliyun_settings("http://127.0.0.1:1", write_template_map(tmp_path / "map.json"))
    app = make_app(_url(kind, tmp_path), **mainland)
    with caplog.at_level(logging.INFO):
        result = app.test_cli_runner().invoke(args=command)
    database_of(app).dispose()
    _expect(kind, _one_line(result))
    logged = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert not [record for record in logged if record.exc_info], logged
    assert not [record for record in logged if "Traceback" in record.getMessage()], logged


def _flask(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": database_url,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    try:
        return subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", *args],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired as expired:
        said = expired.stderr.decode() if isinstance(expired.stderr, bytes) else expired.stderr
        pytest.fail(f"`flask {' '.join(args)}` still ran after 30 s: {said}")


@pytest.mark.parametrize("kind", ["unmigrated", "unreachable"])
@pytest.mark.parametrize(
    "command",
    [["scheduler", "run"], ["scheduler", "run-once", "outbox-dispatch"]],
    ids=" ".join,
)
def test_the_scheduler_process_refuses_a_bad_database_at_once(
    command: list[str], kind: str, tmp_path: Path
) -> None:
    result = _flask(_url(kind, tmp_path), *command)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    _expect(kind, lines[0])


@pytest.mark.parametrize("job", [REPORT_PROMPTS, OUTBOX_DISPATCH])
def test_a_database_lost_while_the_scheduler_runs_is_one_log_line_per_failure(
    job: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'gone.db'}")
    database = database_of(app)
    process = SchedulerProcess(database, settings_of(app), provider_of(app), stop=threading.Event())
    assert process.leadership.try_acquire()
    with caplog.at_level(logging.INFO):
        process._job(spec_of(job))()
    process.leadership.release()
    database.dispose()
    logged = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(logged) == 1, logged
    assert logged[0].exc_info is None
    assert "\n" not in logged[0].getMessage()
    assert logged[0].getMessage().startswith(f"{job}: the database is unavailable: no such table")
