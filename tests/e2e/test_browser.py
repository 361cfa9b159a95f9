"""A doctor in a real browser (Debian's Chromium driven by Playwright), phone-sized too.

Skipped when Chromium is not installed (`make test` installs it with apt-get).
Screenshots are kept under test-artifacts/.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.support import rollup_fixture as fx
from tests.support.accounts import PASSWORD, make_user

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
    fx.add_messages(session, fx.build(session))
    make_user(session, "wang", "doctor", doctor_code="RD1")
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


def _log_in(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "wang")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.parametrize(
    ("label", "width", "height"), [("desktop", 1280, 900), ("phone", 360, 740)]
)
def test_doctor_monday_page_grid_and_chart(server, browser, label, width, height) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    blocked: list[str] = []
    page.on(
        "request",
        lambda request: (
            blocked.append(request.url)
            if not request.url.startswith(server) and not request.url.startswith("data:")
            else None
        ),
    )
    _log_in(page, server)
    assert "/doctors/RD1" in page.url  # the doctor lands on their Monday page
    page.goto(f"{server}/doctors/RD1?week={fx.WEEK}")
    assert page.locator("h1").inner_text().endswith("医生的网格")
    assert page.locator("#needs").is_visible()
    # The project's own stylesheet is applied (the figures are laid out as cards).
    assert page.evaluate("getComputedStyle(document.querySelector('.cards')).display") == "grid"
    assert "红标成员 4 人" in page.locator("#needs").inner_text()
    chart = page.locator("svg.chart")
    assert chart.count() == 1
    box = chart.bounding_box()
    assert box is not None and box["width"] > 200
    assert box["width"] <= width
    assert page.locator("svg.chart polyline.series").count() >= 1
    # Nothing wider than the screen: the page scrolls only inside its tables.
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width
    page.screenshot(path=str(ARTIFACTS / f"monday-{label}.png"), full_page=True)

    page.click("#grids a >> nth=0")
    page.wait_for_load_state()
    assert "/grids/R-" in page.url
    assert page.locator("#members tr").count() > 1
    assert page.locator("svg.chart").count() == 1
    page.screenshot(path=str(ARTIFACTS / f"grid-{label}.png"), full_page=True)

    # The grid's messages of the week, phones masked, within the screen's width.
    page.goto(f"{server}/grids/R-A?week={fx.WEEK}")
    messages = page.locator("#messages")
    assert messages.locator("tr").count() == 4  # header, report, reply, undelivered
    assert "OK 5 BP150/95" in messages.inner_text()
    assert "****" in messages.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(ARTIFACTS / f"grid-messages-{label}.png"), full_page=True)

    response = page.goto(f"{server}/grids/R-C")
    assert response is not None and response.status == 403
    page.screenshot(path=str(ARTIFACTS / f"forbidden-{label}.png"))
    assert blocked == []
    context.close()


def test_a_follow_up_recorded_on_a_phone(server, browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    width = 360
    context = browser.new_context(viewport={"width": width, "height": 740}, locale="zh-CN")
    page = context.new_page()
    _log_in(page, server)
    page.goto(f"{server}/doctors/RD1")
    due = page.locator("#due-followups")
    assert due.is_visible() and "本周随访" in due.inner_text()
    before = page.locator("#due-followups + ul.needs > li").count()
    assert before >= 1
    assert page.locator("#due-followups + ul.needs a.tel").count() >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(ARTIFACTS / "followups-due-phone.png"), full_page=True)

    page.click("#due-followups + ul.needs > li >> nth=0 >> text=记录随访")
    page.wait_for_load_state()
    assert "/followups/new" in page.url
    field = page.locator("input[name=bp]").bounding_box()
    assert field is not None and field["height"] >= 40 and field["width"] <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.fill("input[name=bp]", "135/85")
    page.select_option("select[name=classification]", "controlled")
    page.check("input[name=symptoms][value=none]")
    page.screenshot(path=str(ARTIFACTS / "followup-form-phone.png"), full_page=True)
    page.click("#followup-save")
    page.wait_for_load_state()
    assert "/members/" in page.url
    assert "随访已保存" in page.locator("#followups").inner_text()

    page.goto(f"{server}/doctors/RD1")
    after = page.locator("#due-followups + ul.needs > li").count()
    assert after == before - 1
    context.close()
