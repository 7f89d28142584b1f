"""Response models of the endpoints that are not the assistant's own (those live in ``assistant.schemas``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    code: str = Field(examples=["message_too_long"])
    message: str = Field(examples=["メッセージは2,000文字以内で入力してください。"])


class ErrorResponse(BaseModel):
    error: ErrorDetail


class SourcePassage(BaseModel):
    """A passage of a stored document with its surroundings, for the citation viewer."""

    document_id: str
    title: str
    section: str
    page: int | None = None
    chunk_id: str | None = None
    passage: str
    before: str = Field(description="up to ~300 characters of the document before the passage")
    after: str = Field(description="up to ~300 characters of the document after the passage")
    start: int = Field(description="offset of the passage in the stored document text")
    end: int


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    documents: int
    chunks: int
    records: int
    embedding_model: str
    embedding_model_ready: bool = False  # loaded in the background after start-up; record questions need not wait
    last_ingest: str | None = None


class RecordList(BaseModel):
    count: int
    items: list[dict[str, Any]]


class IngestRequest(BaseModel):
    """The admin ingest always reads the configured corpus dirs; it takes no paths (unknown fields are refused)."""

    model_config = ConfigDict(extra="forbid")

    full: bool = Field(default=False, description="also remove documents and records no longer in the corpus")


class IngestStarted(BaseModel):
    run_id: str
    status: Literal["running", "succeeded", "failed"]


class IngestProgress(BaseModel):
    stage: str | None = None
    done: int = 0
    total: int = 0


class IngestStatus(BaseModel):
    run_id: str
    status: Literal["running", "succeeded", "failed"]
    full: bool
    started_at: str
    finished_at: str | None = None
    progress: IngestProgress
    summary: dict[str, int] | None = None
    report: dict[str, Any] | None = None
    error: str | None = None


class DocumentUploaded(BaseModel):
    document_id: str = Field(examples=["uploads/r6_report.pdf"])
    kind: Literal["pdf", "docx", "text"]
    size: int
    sha256: str
    run_id: str = Field(description="the ingest run started for it: GET /api/admin/ingest/{run_id}")


class DocumentList(BaseModel):
    count: int
    documents: list[dict[str, Any]] = Field(
        description="document_id, title, status (indexed|pending|failed|deleted), doc_type, fiscal_year, chunks, "
        "pages, last_ingest, errors [{stage, reason, at}], pending_drafts, uploaded, trash_id, deleted_at"
    )


class DocumentDeleted(BaseModel):
    document_id: str
    trash_id: str
    chunks_removed: int
    drafts_removed: int
    records_removed: int


class DocumentRestored(BaseModel):
    document_id: str
    run_id: str


class ConversationTurns(BaseModel):
    conversation_id: str
    title: str = Field(description="the first question")
    turns: list[dict[str, Any]] = Field(description="turn, question, answer, intent, created_at, rating (up|down|null)")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "不正なリクエスト / bad request",
        404: "見つかりません / not found",
        413: "本文が大きすぎます (JSON は 64 KB まで) / body too large",
        415: "Content-Type は application/json / unsupported media type",
        422: "入力エラー（文字数・日付・区名など） / invalid input",
        429: "リクエストが多すぎます / rate limited",
    }.items()
}
ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "トークンがない・正しくない / missing or invalid token"},
    403: {"model": ErrorResponse, "description": "RENKEI_ADMIN_TOKEN 未設定で無効 / admin disabled"},
    404: {"model": ErrorResponse, "description": "見つかりません / not found"},
    409: {"model": ErrorResponse, "description": "取り込み実行中 / an ingest is already running"},
}
