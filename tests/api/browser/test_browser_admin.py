"""The admin's and the reader's loop in a real Chromium, with axe-core checking accessibility.

Same browser and skip logic as ``tests/api/browser/test_browser.py`` (tests/api/browser/conftest.py).
axe-core comes from npm (``make axe`` installs it into the git-ignored ``.tools/``); the accessibility checks
skip only where npm is not installed.
Screenshots: ``test-artifacts/admin-upload.png``, ``admin-documents.png``, ``reader-feedback.png``,
``admin-content-gaps.png`` and ``reader-history.png``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect  # after the browser folder's skip check (conftest.py)

from tests.support.browser import ARTIFACTS, PageWatch, ask, last_answer, open_page
from tests.support.server import ADMIN_TOKEN, REPO, Server

pytestmark = pytest.mark.browser

AXE = REPO / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
DOC_ID = "uploads/令和7年度_南ブロック研修.md"
MINAMI_REPORT = """# 令和７年度 南ブロック 多職種連携研修会 実施報告

## 第1回 研修会

【日 時】 令和７年６月17日（火）14：00～16：00
【場 所】 住吉区民センター
講師：住吉病院 地域連携室長 住吉 一郎 氏

## 第2回 研修会

【日 時】 令和７年10月７日（火）13：30～15：30
【場 所】 平野区民センター
講師：平野在宅クリニック 院長 平野 花子 氏
"""
REFUSED_QUESTION = "名古屋市の訪問看護の単価は？"


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        if shutil.which("npm") is None:
            pytest.skip("axe-core needs npm (apt-get install -y npm), which is not installed here")
        result = subprocess.run(
            ["make", "-s", "axe"], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
        )
        assert AXE.exists(), f"`make axe` did not install axe-core:\n{result.stdout}\n{result.stderr}"
    return AXE.read_text(encoding="utf-8")


def assert_accessible(page: Page, axe_source: str) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    page.evaluate(axe_source)  # through the debugger protocol, so the page's script-src CSP does not apply
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document, { resultTypes: ['violations'] })")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], "\n".join(bad)


def open_admin(page: Page) -> None:
    page.click("#admin-toggle")
    expect(page.locator("#admin-toggle")).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#admin-token")).to_be_focused()
    page.fill("#admin-token", ADMIN_TOKEN)


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_admin_uploads_a_report_reviews_its_drafts_then_deletes_and_restores_it(
    page: Page,
    loop_server: Server,
    axe_source: str,
) -> None:
    watch = PageWatch(page)
    open_page(page, loop_server)
    open_admin(page)

    page.set_input_files(
        "#upload-file",
        files=[{"name": "renamed.pdf", "mimeType": "application/pdf", "buffer": b"\x89PNG\r\n\x1a\n" + bytes(64)}],
    )
    page.click("#upload-submit")
    expect(page.locator("#upload-message")).to_contain_text(
        "アップロードできませんでした: 「renamed.pdf」の中身はPDFではありません（中身: PNG 画像）"
    )

    page.set_input_files(
        "#upload-file",
        files=[{"name": "令和7年度_南ブロック研修.md", "mimeType": "text/markdown", "buffer": MINAMI_REPORT.encode()}],
    )
    page.click("#upload-submit")
    expect(page.locator("#upload-message")).to_contain_text(f"{DOC_ID} の取り込み: 完了")
    stages = page.locator("#upload-stages li")
    expect(stages.first).to_be_visible()
    assert all(text.endswith("✓") for text in stages.all_inner_texts())
    assert not any(code in " ".join(stages.all_inner_texts()) for code in ("parse", "embed", "lexical", "extract"))
    expect(page.locator("#upload-result")).to_contain_text(f"{DOC_ID}: 追加（チャンク")
    summary = page.locator("#admin-summary table")
    expect(summary).to_contain_text("追加")
    expect(summary).to_contain_text("変更なし")
    expect(summary).not_to_contain_text("unchanged")

    page.click("#review-upload")
    expect(page.locator("#drafts-document")).to_have_value(DOC_ID)
    expect(page.locator("li.draft-card")).to_have_count(2)
    first = page.locator("li.draft-card").filter(has_text="住吉区民センター")
    # the event kind, in Japanese with its code
    # (the extractor reads 第1回 研修会 with a lecturer as a multi-professional training)
    expect(first.locator("table.draft-values")).to_contain_text("多職種研修会（multi_professional_training）")
    screenshot(page, "admin-upload.png")
    assert_accessible(page, axe_source)

    page.click("#documents-load")
    page.fill("#documents-filter", "南ブロック研修")
    rows = page.locator("#documents-body tr")
    expect(rows).to_have_count(1)
    row = page.locator(f"#documents-body tr[data-document-id='{DOC_ID}']")
    expect(row).to_contain_text("取り込み済み")
    expect(row).to_contain_text("2件")  # pending drafts
    expect(row).to_contain_text("研修の報告")  # the document type, in Japanese
    row.get_by_role("button", name=f"{DOC_ID} を削除").click()
    confirm = row.locator("button.confirm-delete")
    expect(confirm).to_be_focused()
    page.keyboard.press("Enter")  # the in-place confirmation works from the keyboard
    expect(page.locator("#documents-message")).to_contain_text(f"{DOC_ID} をごみ箱へ移しました")
    expect(row).to_contain_text("ごみ箱")
    page.select_option("#documents-status", "deleted")
    expect(row).to_be_visible()
    screenshot(page, "admin-documents.png")
    row.get_by_role("button", name=f"{DOC_ID} を元に戻す").click()
    expect(page.locator("#documents-message")).to_contain_text(f"{DOC_ID} を元に戻しました（取り込み: 完了）")
    page.select_option("#documents-status", "")
    expect(row).to_contain_text("取り込み済み")
    refused_upload = "the server responded with a status of 415"  # Chromium logs the refused renamed PNG
    assert [error for error in watch.errors if refused_upload not in error] == [] and watch.dialogs == []


def test_reader_rates_answers_and_the_admin_reads_the_content_gaps_and_the_csv(
    page: Page,
    loop_server: Server,
    axe_source: str,
) -> None:
    watch = PageWatch(page)
    open_page(page, loop_server)
    assert_accessible(page, axe_source)

    ask(page, REFUSED_QUESTION)
    refused = last_answer(page)
    expect(page.locator("#live-status")).to_contain_text("回答: ")
    down = refused.get_by_role("button", name="役に立たなかった")
    down.focus()
    page.keyboard.press("Enter")
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(refused.locator(".feedback-reason")).to_be_visible()
    expect(refused.get_by_role("radio", name="間違い")).to_be_focused()
    refused.get_by_role("radio", name="不足").check()
    refused.get_by_label("ご意見（任意）").fill("名古屋市の資料がほしい")
    refused.get_by_role("button", name="理由を送る").click()
    expect(refused.locator(".feedback-status")).to_contain_text("理由を送りました")

    ask(page, "北ブロックの研修会の講師は？")
    answered = last_answer(page)
    expect(answered.locator("button.cite").first).to_be_visible()
    answered.get_by_role("button", name="役に立たなかった").click()
    answered.get_by_role("radio", name="古い").check()
    answered.get_by_role("button", name="理由を送る").click()
    expect(answered.locator(".feedback-status")).to_contain_text("理由を送りました")
    expect(page.locator("#history-list .history-item")).to_have_count(1)
    expect(page.locator("#history-list .history-item").first).to_have_text(REFUSED_QUESTION)
    screenshot(page, "reader-feedback.png")
    assert_accessible(page, axe_source)

    open_admin(page)
    page.click("#quality-load")
    group = page.locator("li.gap-group").filter(has_text=REFUSED_QUESTION)
    expect(group).to_contain_text("回答できず 1件")
    expect(group).to_contain_text("不足")
    expect(group).to_contain_text("名古屋市の資料がほしい")
    training = page.locator("li.gap-item").filter(has_text="北ブロックの研修会の講師は？").filter(has_text="古い")
    training.locator("button.open-cited").first.click()
    expect(page.locator("#source-panel mark")).to_be_visible()
    expect(page.locator("#source-title")).to_contain_text("引用された箇所")
    screenshot(page, "admin-content-gaps.png")
    assert_accessible(page, axe_source)

    with page.expect_download() as info:
        page.click("#feedback-csv")
    csv_text = Path(info.value.path()).read_text(encoding="utf-8")
    assert csv_text.startswith("\ufeffgroup,kind,rating,reason")
    assert REFUSED_QUESTION in csv_text and "名古屋市の資料がほしい" in csv_text and ",古い," in csv_text

    page.click("#new-chat")
    expect(page.locator("#messages li")).to_have_count(0)
    page.reload()
    expect(page.locator("#history-list .history-item")).to_have_count(1)  # the ids live in this browser
    page.locator("#history-list .history-item").first.click()
    expect(page.locator("#history-message")).to_contain_text("2件のやりとり")
    expect(page.locator("#messages li.message.user")).to_have_count(2)
    reopened = page.locator("#messages li.message.assistant")
    expect(reopened.first.get_by_role("button", name="役に立たなかった")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#history-list .history-item").first).to_have_attribute("aria-current", "true")
    ask(page, "会場は？")  # the reopened conversation continues: the follow-up resolves against it
    expect(last_answer(page).locator(".answer-text")).not_to_contain_text("見つかりません")
    screenshot(page, "reader-history.png")
    assert watch.errors == [] and watch.dialogs == []
