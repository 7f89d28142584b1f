"""The chat page in a real Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright's sync API).

Install the browser with ``apt-get update && apt-get install -y chromium fonts-ipafont-gothic``.
The final page is saved as ``test-artifacts/browser-final.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server_fixture import (  # noqa: F401 - pytest fixtures
    REPO,
    Server,
    ingest,
    new_deployment,
    sample_server,
    start_server,
)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts"
TIMEOUT_MS = 30_000

if not CHROMIUM.exists():
    pytest.skip(
        "needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium fonts-ipafont-gothic)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class PageWatch:
    """Collects script errors and dialogs (an ``alert`` would mean injected markup ran)."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)
        page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="ja-JP", viewport={"width": 1360, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def ask(page: Page, question: str) -> None:
    before = page.locator("li.message.assistant.done").count()
    page.fill("#message-input", question)
    page.click("#send")
    expect(page.locator("li.message.assistant.done")).to_have_count(before + 1)


def last_answer(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("li.message.assistant.done").last


def open_page(page: Page, server: Server) -> None:
    page.goto(server.base_url + "/")
    expect(page.locator("#ward-select option")).to_have_count(25)  # （指定しない） + the 24 wards


def test_chat_citation_and_ward_flow(page: Page, sample_server: Server) -> None:
    watch = PageWatch(page)
    open_page(page, sample_server)
    expect(page.locator(".suggestion").first).to_be_visible()

    ask(page, "北ブロックの研修会の講師は？")
    answer = last_answer(page)
    expect(answer.locator(".answer-text")).to_contain_text("田村")
    assert int(answer.get_attribute("data-deltas") or 0) >= 1  # arrived as streamed delta events
    expect(answer.locator("table.record-table")).to_contain_text("田村")

    answer.locator("button.cite").first.click()
    highlight = page.locator("#source-panel mark")
    expect(highlight).to_be_visible()
    expect(highlight).to_contain_text("田村")
    expect(page.locator("#source-meta")).not_to_be_empty()

    page.select_option("#ward-select", "鶴見区")
    page.fill("#as-of", "2023-09-01")
    ask(page, "私の区の研修はいつ？")
    expect(last_answer(page).locator(".answer-text")).to_contain_text("9月29日")
    expect(last_answer(page).locator("button.cite").first).to_be_visible()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-final.png"), full_page=True)

    page.reload()
    expect(page.locator("#ward-select")).to_have_value("鶴見区")  # remembered in localStorage
    assert watch.errors == [] and watch.dialogs == []


def test_survey_results_render_as_a_bar_chart(page: Page, sample_server: Server) -> None:
    surveys = httpx.get(f"{sample_server.base_url}/api/records/surveys", timeout=30).json()["items"]
    survey = next(s for s in surveys if any(o["count"] is not None for q in s["questions"] for o in q["options"]))
    counted = sum(1 for q in survey["questions"] for o in q["options"] if o["count"] is not None)
    open_page(page, sample_server)
    page.evaluate("(survey) => document.getElementById('messages').append(...renderRecords([survey]))", survey)
    chart = page.locator("figure.survey")
    expect(chart).to_contain_text(survey["title"])
    expect(chart.locator("svg.bar-chart rect.bar")).to_have_count(counted)


def test_admin_view_runs_an_ingest_and_shows_the_summary(page: Page, sample_server: Server) -> None:
    from tests.server_fixture import ADMIN_TOKEN

    open_page(page, sample_server)
    page.click("#admin-toggle")
    page.fill("#admin-token", "wrong-token")
    page.click("#admin-run")
    expect(page.locator("#admin-message")).to_contain_text("トークンが正しくありません")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.click("#admin-run")
    expect(page.locator("#admin-message")).to_contain_text("完了")
    expect(page.locator("#admin-summary table")).to_contain_text("変更なし")  # the summary speaks Japanese


MARKUP_DOCUMENT = """# 連絡票の記入例

## 記入上の注意
連絡票の備考欄に <script>alert(1)</script> や <img src=x onerror="alert(2)"> と書かれていても、そのまま文字として扱います。
連絡票は相談支援室へ提出してください。
"""


@pytest.fixture(scope="module")
def markup_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    deployment = new_deployment(tmp_path_factory.mktemp("markup"), {"renraku.md": MARKUP_DOCUMENT})
    ingest(deployment)
    server = start_server(deployment)
    try:
        yield server
    finally:
        server.stop()


def test_document_markup_is_shown_as_text(page: Page, markup_server: Server) -> None:
    watch = PageWatch(page)
    page.goto(markup_server.base_url + "/")
    ask(page, "連絡票の備考欄には何と書かれていても文字として扱いますか")
    answer = last_answer(page)
    expect(answer.locator(".answer-text")).to_contain_text("<script>alert(1)</script>")
    expect(answer.locator(".answer-text")).to_contain_text('<img src=x onerror="alert(2)">')
    answer.locator("button.cite").first.click()
    expect(page.locator("#source-text")).to_contain_text("<script>alert(1)</script>")
    expect(page.locator("#source-panel mark")).to_be_visible()
    assert page.locator("#messages img, #source-panel img, #messages script, #source-panel script").count() == 0
    assert page.locator("script").count() == 3  # only /static/app.js, conversations.js and admin.js
    assert watch.dialogs == [] and watch.errors == []
