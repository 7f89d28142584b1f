"""The assistant's request and answer types (the HTTP API uses them as its contract)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticKnownError

from knowledge.config import get_settings

Intent = Literal["record", "how_to", "peer_practice", "out_of_scope", "greeting"]

CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class ChatRequest(BaseModel):
    message: str = Field(
        min_length=1,
        description="at most RENKEI_MAX_MESSAGE_CHARS characters (GET /api/limits)",
        examples=["北ブロックの研修会の講師は？"],
    )
    conversation_id: str | None = Field(default=None, pattern=CONVERSATION_ID_PATTERN)
    ward: str | None = Field(default=None, max_length=32, examples=["鶴見区"])
    as_of: date | None = Field(default=None, examples=["2023-09-01"])

    @field_validator("message")
    @classmethod
    def _within_limit(cls, message: str) -> str:
        """The setting ``http.max_message_chars`` (``RENKEI_MAX_MESSAGE_CHARS``) bounds the message, for the HTTP
        API and ``renkei ask`` alike; a longer one fails as ``max_length`` would (``string_too_long``, the limit
        in the error's context)."""
        limit = max_message_chars()
        if len(message) > limit:
            raise PydanticKnownError("string_too_long", {"max_length": limit})
        return message


def max_message_chars() -> int:
    """The longest message a :class:`ChatRequest` takes (the process's settings)."""
    return get_settings().http.max_message_chars


class Citation(BaseModel):
    n: int
    document_id: str
    title: str
    section: str
    page: int | None = None
    snippet: str  # an exact substring of the stored document text
    score: float
    chunk_id: str | None = None
    start: int  # offsets of the snippet in the stored document text
    end: int


class ChatAnswer(BaseModel):
    conversation_id: str
    answer: str
    intent: Intent
    grounded: bool
    citations: list[Citation] = Field(default_factory=list)
    records: list[dict[str, Any]] = Field(default_factory=list)


class StreamEvent(BaseModel):
    """One Server-Sent Event: ``delta`` (text), then ``citations``, ``records``, then ``done``."""

    event: Literal["delta", "citations", "records", "done", "error"]
    data: Any
