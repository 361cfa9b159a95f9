"""An administrator in a real browser (Debian's Chromium driven by Playwright), at desktop
and phone width: retire a doctor, edit the suggested reassignment, apply it, see the SMS
queued and the change in the log, undo it. Screenshots are kept under test-artifacts/.

Skipped when Chromium is not installed (`make test` installs it with apt-get).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from grids.core.vocabulary import DoctorStatus
from grids.models import Doctor, Grid
from i18n import translate
from notifications.models import OutboxMessage
from tests.support import factories
from tests.support.accounts import PASSWORD, make_user
from tests.support.admin import county

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium not installed")


@pytest.fixture
def server(app, session) -> Iterator[str]:
    built = county(session)
    factories.doctor(session, built.facilities["clinic_a"], code="DA2", name="周医生")
    make_user(session, "bureau", "admin")
    session.commit()
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize(
    ("label", "width", "height"), [("desktop", 1280, 900), ("phone", 360, 740)]
)
def test_retire_a_doctor_edit_apply_see_sms_and_log_then_undo(
    server, browser, session, label, width, height
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(server) else outside.append(request.url),
    )
    page.goto(f"{server}/login")
    page.fill("input[name=username]", "bureau")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()

    page.goto(f"{server}/admin/grids")
    assert page.locator("h1").inner_text() == "网格管理"
    _fits(page, width)
    page.screenshot(path=str(ARTIFACTS / f"admin-grids-{label}.png"), full_page=True)

    page.click("text=AV1-HTN01")
    page.wait_for_load_state()
    page.click("text=退休或停职")
    page.wait_for_load_state()
    retiring = page.url.rsplit("/", 2)[-2]
    # The suggestion: the other doctor of the same clinic; the administrator edits one line.
    assert page.locator("select[name='to.AV1-HTN01']").input_value() == "DA2"
    page.select_option("select[name='to.AV1-HTN02']", "DB1")
    page.fill("#retire input[name=reason]", "到龄退休")
    _fits(page, width)
    page.screenshot(path=str(ARTIFACTS / f"admin-retire-{label}.png"), full_page=True)
    page.click("#retire button[type=submit]")
    page.wait_for_load_state()
    assert "预览" in page.locator("#result").inner_text()
    assert "DB1" in page.content()
    page.screenshot(path=str(ARTIFACTS / f"admin-preview-{label}.png"), full_page=True)

    page.click("#apply")
    page.wait_for_load_state()
    assert "已执行变更" in page.locator("#result").inner_text()
    assert "已排队短信" in page.locator("#sms").inner_text()
    assert "****" in page.locator("#sms + ul").inner_text()  # numbers masked
    page.screenshot(path=str(ARTIFACTS / f"admin-applied-{label}.png"), full_page=True)
    session.expire_all()
    assert session.scalar(select(Doctor.status).where(Doctor.code == retiring)) == (
        DoctorStatus.RETIRED
    )
    assert session.scalar(select(Grid.doctor_id).where(Grid.code == "AV1-HTN02")) == (
        session.scalar(select(Doctor.id).where(Doctor.code == "DB1"))
    )
    assert session.scalars(select(OutboxMessage.template)).all()

    page.click("nav.top >> text=变更记录")
    page.wait_for_load_state()
    row = page.locator("tr", has_text=translate("admin.op.retire-doctor", "zh_CN"))
    assert row.count() == 1 and "到龄退休" in row.inner_text()
    page.screenshot(path=str(ARTIFACTS / f"admin-log-{label}.png"), full_page=True)
    row.locator("button").click()
    page.wait_for_load_state()
    assert "撤销" in page.locator("#result").inner_text()  # the preview
    page.click("#apply")
    page.wait_for_load_state()
    assert "撤销" in page.locator("#result").inner_text()
    page.screenshot(path=str(ARTIFACTS / f"admin-undone-{label}.png"), full_page=True)
    session.expire_all()
    assert session.scalar(select(Doctor.status).where(Doctor.code == retiring)) == (
        DoctorStatus.ACTIVE
    )
    assert outside == []
    context.close()
