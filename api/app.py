"""The FastAPI application: ``create_app(settings)`` (also a uvicorn factory)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import AppState, admin_problem
from api.errors import error_response, install_error_handlers
from api.routes import admin, chat, conversations, documents, drafts, feedback, health, labels, records, sources
from knowledge.config import Settings, get_settings
from knowledge.health import check_data_dir
from records.reference import CITY_NAME

if TYPE_CHECKING:
    from ingest.pipeline import IngestHooks

log = logging.getLogger("renkei.api")

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 64 * 1024
MULTIPART_OVERHEAD_BYTES = 64 * 1024
UPLOAD_PATH = "/api/admin/documents"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
PAGE_SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"referrer-policy", b"no-referrer"),
]

DESCRIPTION = (
    f"\n{CITY_NAME} 在宅医療・介護連携推進事業の資料に、引用付きで答えるアシスタントの API です。\n\n"
    + """* `POST /api/chat` — 質問に答える（回答中の `[n]` はすべて `citations` に対応）
* `POST /api/chat/stream` — 同じ回答を Server-Sent Events で（`delta` → `citations` → `records` → `done`）
* `GET /api/sources/{document_id}?chunk=` — 引用元の箇所と前後の文
* `GET /api/records/...` — 研修・説明会などの記録、区・ブロック、アンケート
* `POST /api/feedback` — 回答への 👍/👎（理由・コメント付き、トークン不要）
* `GET /api/conversations/{id}` — 会話の履歴
* `POST /api/admin/ingest` — 取り込み（`Authorization: Bearer $RENKEI_ADMIN_TOKEN`）
* `POST|GET /api/admin/documents`, `DELETE /api/admin/documents/{document_id}` — 資料のアップロード・一覧・削除と復元
* `GET /api/admin/feedback`, `GET /api/admin/feedback.csv` — 回答できなかった質問と 👎 の一覧・CSV

エラーはすべて `{"error": {"code", "message"}}` の JSON です。
"""
)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _is_multipart(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


@dataclass(frozen=True)
class BodyRule:
    """What a request body may be: its size limit, its media type and the message when the type is wrong.

    ``admin_token`` (for admin-only paths with large bodies): the token is checked before the body is read,
    so nobody without it can make the server take in megabytes.
    """

    max_bytes: int
    accepts: Callable[[str], bool]
    media_message: str
    admin_only: bool = False
    admin_token: str | None = None

    @property
    def limit_text(self) -> str:
        return f"{self.max_bytes / 1_000_000:.0f} MB" if self.max_bytes >= 1_000_000 else f"{self.max_bytes // 1024} KB"


JSON_BODY = BodyRule(
    MAX_BODY_BYTES,
    _is_json,
    "Content-Type は application/json にしてください。 / The request body must be application/json.",
)


def upload_rule(settings: Settings) -> BodyRule:
    """Document uploads: admin only, multipart, the file limit plus room for the form's own headers."""
    return BodyRule(
        settings.http.upload_max_bytes + MULTIPART_OVERHEAD_BYTES,
        _is_multipart,
        "ファイルは multipart/form-data で送ってください。 / Upload the file as multipart/form-data.",
        admin_only=True,
        admin_token=settings.http.admin_token,
    )


class BodyGuard:
    """Pure ASGI middleware for ``/api`` requests with a body: JSON of at most 64 KB (413, 415), except the
    paths given their own rule (document uploads: multipart up to the upload limit).

    The body is read here (bounded by the rule) and replayed to the app; later ``receive`` calls go
    to the server, so the app still sees a client disconnect.
    """

    def __init__(self, app: ASGIApp, special: dict[str, BodyRule] | None = None) -> None:
        self.app = app
        self.special = special or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        rule = self.special.get(scope["path"].rstrip("/"), JSON_BODY)
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        if rule.admin_only and (problem := admin_problem(rule.admin_token, headers.get("authorization", ""))):
            closing = {**(problem.headers or {}), "Connection": "close"}  # the unread body is not wanted
            response = error_response(problem.status, problem.code, problem.message, headers=closing)
            await response(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > rule.max_bytes:
            await self._too_large(rule, scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(body) > rule.max_bytes:
                await self._too_large(rule, scope, receive, send)
                return
        if body and not rule.accepts(headers.get("content-type", "")):
            response = error_response(415, "unsupported_media_type", rule.media_message)
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(bytes(body), receive), send)

    @staticmethod
    async def _too_large(rule: BodyRule, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "payload_too_large",
            f"リクエスト本文が大きすぎます（上限 {rule.limit_text}）。 / The request body is larger than {rule.limit_text}.",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class PageSecurityHeaders:
    """A strict Content-Security-Policy on the chat page and its static files (defence in depth against XSS)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/" or path.startswith("/static/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *PAGE_SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None, ingest_hooks: IngestHooks | None = None) -> FastAPI:
    """Build the app. The knowledge base, records engine and assistant are built at start-up (lifespan).

    ``ingest_hooks`` go to every ingest the admin starts (fault injection in tests; none by default)."""
    resolved = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        check_data_dir(resolved)  # DataDirError: one message naming `renkei ingest --rebuild`
        state = AppState(resolved, ingest_hooks)
        app.state.renkei = state
        state.warm_up()
        log.info("renkei ready: %s", state.kb.counts())
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="renkei API",
        summary="在宅医療・介護連携 ナレッジアシスタント",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (chat, conversations, feedback, sources, records, admin, documents, drafts, health, labels):
        app.include_router(module.router)
    app.include_router(feedback.admin_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")

    app.add_middleware(BodyGuard, special={UPLOAD_PATH: upload_rule(resolved)})
    app.add_middleware(PageSecurityHeaders)
    return app
