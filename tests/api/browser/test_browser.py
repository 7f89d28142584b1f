"""The chat page in a real Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright's sync API).

Install the browser with ``apt-get update && apt-get install -y chromium fonts-ipafont-gothic``
(tests/api/browser/conftest.py: the browser, the page, the skip without it).
The final page is saved as ``test-artifacts/browser-final.png``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import ARTIFACTS, PageWatch, ask, last_answer, open_page
from tests.support.server import ADMIN_TOKEN, Server, ingest, new_deployment, start_server

pytestmark = pytest.mark.browser


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
