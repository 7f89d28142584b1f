"""The chat page in a real Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright's sync API): the launch
arguments and what the browser tests do on a page. The fixtures ``browser`` and ``page`` and the skip when
Chromium is missing are in tests/api/browser/conftest.py."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import ConsoleMessage, Dialog, Page, expect

from tests.support.paths import REPO
from tests.support.server import Server

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
