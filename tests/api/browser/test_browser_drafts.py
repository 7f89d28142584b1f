"""The admin view's record drafts in a real Chromium: ingest proposes drafts, the admin reviews them.

Same browser, launch arguments and skip logic as ``tests/api/browser/test_browser.py``
(tests/api/browser/conftest.py). The final page is saved as ``test-artifacts/browser-drafts.png``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Dialog, Locator, Page, expect  # after the browser folder's skip check (conftest.py)

from tests.support.admin import KITA_REPORT as TRAINING_REPORT
from tests.support.browser import ARTIFACTS, PageWatch, open_page
from tests.support.server import ADMIN_TOKEN, Deployment, Server, start_server

pytestmark = pytest.mark.browser

DOC_ID = "reports/kita_training_r6.md"


BLOCK_DOC_ID = "reports/chuo_block_r6.md"
# Names a block the sample's records do not have: accepting asks before creating it.
BLOCK_REPORT = """# 令和６年度 中央ブロック 多職種研修会

| ブロック | 日時 | 会場 |
|---|---|---|
| 中央ブロック | 2024年12月3日（火） 14:00～16:00 | 中央区民センター |
"""


@pytest.fixture(scope="module")
def drafts_server(sample_deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The ingested sample copied, plus a training write-up not ingested yet (the admin view ingests it)."""
    deployment = sample_deployment.copy_to(tmp_path_factory.mktemp("drafts") / "deployment")
    (deployment.corpus / "reports").mkdir()
    (deployment.corpus / DOC_ID).write_text(TRAINING_REPORT, encoding="utf-8")
    (deployment.corpus / BLOCK_DOC_ID).write_text(BLOCK_REPORT, encoding="utf-8")
    server = start_server(deployment, RENKEI_ADMIN_TOKEN=ADMIN_TOKEN)
    try:
        yield server
    finally:
        server.stop()


def draft_card(page: Page, venue: str) -> Locator:
    return page.locator("li.draft-card").filter(has_text=venue)


def events_at(server: Server, venue: str) -> list[dict[str, object]]:
    items = httpx.get(f"{server.base_url}/api/records/events", timeout=30).json()["items"]
    return [item for item in items if item.get("venue") == venue]


def test_admin_reviews_drafts_beside_their_source_passage(page: Page, drafts_server: Server) -> None:
    watch = PageWatch(page)
    open_page(page, drafts_server)
    page.click("#admin-toggle")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.click("#admin-run")  # ingesting the new write-up proposes its drafts, then the list loads
    expect(page.locator("#admin-message")).to_contain_text("完了")
    page.select_option("#drafts-document", DOC_ID)
    expect(page.locator("li.draft-card")).to_have_count(3)

    kita = draft_card(page, "北区民センター")
    expect(kita.locator(".draft-meta")).to_contain_text("行事")
    expect(kita.locator(".confidence")).to_contain_text("信頼度 0.")
    expect(kita.locator("table.draft-values")).to_contain_text("北野 一郎")
    expect(kita.locator(".draft-quote")).to_contain_text("【場 所】 北区民センター")
    kita.locator(".draft-source-link").click()
    expect(page.locator("#source-panel mark")).to_contain_text("北区民センター")
    expect(page.locator("#source-title")).to_contain_text(DOC_ID)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-drafts.png"), full_page=True)

    page.fill("#accept-all-min", "1")  # above every proposal's confidence: nothing is accepted
    expect(page.locator("#accept-all")).to_have_text("信頼度 1 以上をすべて採用")
    page.click("#accept-all")
    expect(page.locator("#drafts-message")).to_contain_text("信頼度 1 以上の候補を0件採用しました")
    expect(page.locator("li.draft-card")).to_have_count(3)

    draft_card(page, "都島区民センター").get_by_role("button", name="却下").click()
    expect(page.locator("#drafts-message")).to_contain_text("却下しました")
    expect(page.locator("li.draft-card")).to_have_count(2)

    kita.get_by_role("button", name="編集して採用").click()
    kita.locator("input[data-field='title']").fill("北ブロック 多職種連携研修会（第1回）")
    kita.get_by_role("button", name="編集内容で採用").click()
    expect(page.locator("#drafts-message")).to_contain_text("採用しました")
    expect(page.locator("li.draft-card")).to_have_count(1)

    draft_card(page, "淀川区民センター").get_by_role("button", name="採用", exact=True).click()
    expect(draft_card(page, "淀川区民センター")).to_have_count(0)  # the other report's draft may show now

    assert [e["title"] for e in events_at(drafts_server, "北区民センター")] == ["北ブロック 多職種連携研修会（第1回）"]
    assert [e["date"] for e in events_at(drafts_server, "淀川区民センター")] == ["2025-01-21"]
    assert events_at(drafts_server, "都島区民センター") == []
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    rejected = httpx.get(
        f"{drafts_server.base_url}/api/admin/drafts", params={"status": "rejected"}, headers=headers, timeout=30
    ).json()["drafts"]
    assert [d["values"]["venue"] for d in rejected] == ["都島区民センター"]
    assert watch.errors == [] and watch.dialogs == []


def test_accepting_a_draft_that_names_a_new_block_asks_first(page: Page, drafts_server: Server) -> None:
    answers = iter([False, True])  # the first confirmation is declined, the second accepted
    dialogs: list[str] = []

    def confirm(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept() if next(answers) else dialog.dismiss()

    page.on("dialog", confirm)
    open_page(page, drafts_server)
    page.click("#admin-toggle")
    page.fill("#admin-token", ADMIN_TOKEN)
    page.click("#admin-run")
    expect(page.locator("#admin-message")).to_contain_text("完了")
    page.select_option("#drafts-document", BLOCK_DOC_ID)
    card = draft_card(page, "中央区民センター")
    card.get_by_role("button", name="採用", exact=True).click()
    expect(card).to_contain_text("中央ブロック")  # declined: the card stays, with the reason
    expect(card.locator(".draft-error")).to_contain_text("中央ブロック")
    card.get_by_role("button", name="採用", exact=True).click()
    expect(page.locator("#drafts-message")).to_contain_text("採用しました")
    assert len(dialogs) == 2 and "中央ブロック" in dialogs[0]
    blocks = httpx.get(f"{drafts_server.base_url}/api/records/blocks", timeout=30).json()["items"]
    assert "中央ブロック" in [block["name"] for block in blocks]
    new = [e for e in events_at(drafts_server, "中央区民センター") if e["date"] == "2024-12-03"]
    assert [e["blocks"] for e in new] == [["中央ブロック"]]
