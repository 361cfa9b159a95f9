"""A doctor on a 360 px phone in a real browser (Debian's Chromium driven by Playwright):
reads why a member is red on the member page, then closes the case with its outcome.

Skipped when Chromium is not installed. The server's clock is moved with time-machine
(the browser only talks HTTP to it). Screenshots are kept under test-artifacts/.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from werkzeug.serving import make_server

from grids.escalation.models import Escalation
from grids.storage.session import database_of
from tests.support import factories
from tests.support.accounts import PASSWORD, make_user
from tests.support.escalation import text_at

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
# Tuesday 8 December 2026, 20:00 in Shanghai.
T0 = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
WIDTH = 360

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium not installed")


@pytest.fixture
def server(app, session) -> Iterator[dict[str, Any]]:
    tree = factories.facility_tree(session)
    grid = factories.grid_with_members(session, tree["clinic_a"], size=6, code="JXV01-HTN01")
    assert grid.doctor is not None and grid.coordinator.phone is not None
    make_user(session, "wang", "doctor", doctor_code=grid.doctor.code)
    session.commit()
    text_at(app, grid.coordinator.phone, "好 5 血压185/115", T0)
    with database_of(app).unit_of_work() as fresh:
        code = fresh.scalars(select(Escalation.code)).one()
    with time_machine.travel(datetime(2026, 12, 8, 13, 0, tzinfo=UTC), tick=True):
        http = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=http.serve_forever, daemon=True)
        thread.start()
        yield {"base": f"http://127.0.0.1:{http.server_port}", "code": code, "grid": grid}
        http.shutdown()
        thread.join(timeout=10)


def test_read_the_member_page_and_close_the_case_on_a_phone(server, app) -> None:
    base, code, grid = server["base"], server["code"], server["grid"]
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": WIDTH, "height": 740}, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "wang")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()

        page.goto(f"{base}/members/{grid.members[5].code}")
        why = page.locator("#why").inner_text()
        assert "最近血压达危急值" in why and "185/115 mmHg" in why
        assert "好 5 血压185/115" in why
        assert page.locator("a#phone").get_attribute("href") == f"tel:{grid.members[5].phone}"
        assert page.locator("svg.chart").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
        page.screenshot(path=str(ARTIFACTS / "member-phone.png"), full_page=True)

        page.click(f"#member-cases a:has-text('{code}')")
        page.wait_for_load_state()
        assert f"/escalations/{code}" in page.url
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
        page.select_option("select[name=outcome]", "referred")
        page.fill("input[name=reason]", "转县医院")
        page.click("#close-form button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("#case-outcome").inner_text() == "转诊"
        assert page.locator("#close-form").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
        page.screenshot(path=str(ARTIFACTS / "case-closed-phone.png"), full_page=True)
        context.close()
        browser.close()
    with database_of(app).unit_of_work() as session:
        case = session.scalars(select(Escalation)).one()
        assert (case.state, case.outcome) == ("closed", "referred")
