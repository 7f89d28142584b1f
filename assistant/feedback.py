"""Readers' 👍/👎 on answers, and the admin's view of what the documents lack.

A rating names a turn of a conversation kept by :mod:`assistant.memory`; the question, answer and intent
are copied from that turn (the reader's page only sends the rating, the reason and the cited chunks), with
the settings that produced the answer. The content-gap view groups the refused questions and the 👎
answers by similar question, so an admin sees "asked 5 times, last on …" instead of 5 rows.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.memory import ConversationMemory, StoredTurn
from assistant.schemas import CONVERSATION_ID_PATTERN
from knowledge.config import Settings
from records.models import Feedback

VOCABULARY_FILE = Path(__file__).resolve().parent / "data" / "feedback.yaml"
CHUNK_ID_PATTERN = r"^[A-Za-z0-9_:.-]{1,128}$"


@dataclass(frozen=True)
class FeedbackVocabulary:
    ratings: dict[str, str]
    reasons: dict[str, str]
    item_kinds: dict[str, str]
    refusal_intent: str
    comment_max_chars: int
    max_citations: int
    similar_question_threshold: float
    view_limit: int
    items_per_group: int


def load_vocabulary(path: Path = VOCABULARY_FILE) -> FeedbackVocabulary:
    return FeedbackVocabulary(**yaml.safe_load(path.read_text(encoding="utf-8")))


VOCABULARY = load_vocabulary()


class FeedbackError(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class CitedChunk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_id: str = Field(min_length=1, max_length=500)
    chunk_id: str = Field(pattern=CHUNK_ID_PATTERN)


class FeedbackRequest(BaseModel):
    """``POST /api/feedback``: a rating of one turn; reason and comment are optional."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str = Field(pattern=CONVERSATION_ID_PATTERN)
    turn: int = Field(ge=1, description="the turn id from GET /api/conversations/{id}")
    rating: Literal["up", "down"]
    reason: str | None = Field(default=None, description=f"one of {', '.join(VOCABULARY.reasons)}")
    comment: str | None = Field(default=None, max_length=VOCABULARY.comment_max_chars)
    citations: list[CitedChunk] = Field(default_factory=list, max_length=VOCABULARY.max_citations)

    @field_validator("reason")
    @classmethod
    def _known_reason(cls, value: str | None) -> str | None:
        if value is not None and value not in VOCABULARY.reasons:
            raise ValueError(f"reason must be one of {', '.join(VOCABULARY.reasons)}")
        return value


def answer_settings(settings: Settings, embedding_model: str) -> dict[str, Any]:
    """What decided how an answer was made: the embedding model and whether an LLM phrased it."""
    llm = settings.llm.enabled
    return {"embedding_model": embedding_model, "llm": llm, "llm_model": settings.llm.model if llm else None}


def record_feedback(memory: ConversationMemory, request: FeedbackRequest, settings: dict[str, Any]) -> dict[str, Any]:
    """Store (or replace) the rating of a kept turn; ``FeedbackError`` 404 when there is no such turn."""
    turn = memory.turn(request.conversation_id, request.turn)
    if turn is None:
        raise FeedbackError(
            404,
            "turn_not_found",
            "評価する回答が見つかりません（会話が削除されたか、古くなっています）。 / No such turn in this conversation.",
        )
    values = {
        "rating": request.rating,
        "reason": request.reason if request.rating == "down" else None,
        "comment": (request.comment or "").strip() or None,
        "question": turn.message,
        "answer": turn.answer,
        "intent": turn.intent,
        "citations": [cited.model_dump() for cited in request.citations],
        "answer_settings": settings,
        "created_at": datetime.now(UTC),
    }
    for _ in range(2):  # a concurrent first rating of the same turn: the second attempt updates it
        try:
            with Session(memory.engine) as session, session.begin():
                row = session.scalar(
                    select(Feedback).where(
                        Feedback.conversation_id == turn.conversation_id, Feedback.turn_id == turn.turn
                    )
                )
                if row is None:
                    row = Feedback(conversation_id=turn.conversation_id, turn_id=turn.turn, **values)
                    session.add(row)
                else:
                    for key, value in values.items():
                        setattr(row, key, value)
                session.flush()
                return row.to_dict()
        except IntegrityError:
            continue
    raise FeedbackError(
        409, "conflict", "評価を保存できませんでした。もう一度お試しください。 / Could not store the rating."
    )


def ratings_of(engine: Engine, conversation_id: str) -> dict[int, str]:
    """turn id → rating, for a reopened conversation."""
    with Session(engine) as session:
        rows = session.execute(
            select(Feedback.turn_id, Feedback.rating).where(Feedback.conversation_id == conversation_id)
        )
        return {turn_id: rating for turn_id, rating in rows}


# --- the content-gap view -------------------------------------------------------------------------------
_NOT_CONTENT = re.compile(r"[\s\W_]+")


def question_shingles(question: str) -> frozenset[str]:
    """Character bigrams of the question's letters (NFKC, lower case): the grouping's notion of similar."""
    text = _NOT_CONTENT.sub("", unicodedata.normalize("NFKC", question).lower())
    return frozenset(text[i : i + 2] for i in range(len(text) - 1)) or frozenset({text})


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


@dataclass
class GapItem:
    kind: Literal["refusal", "down"]
    conversation_id: str
    turn: int
    question: str
    answer: str
    intent: str
    created_at: datetime
    reason: str | None = None
    comment: str | None = None
    citations: list[dict[str, str]] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return self.intent == VOCABULARY.refusal_intent

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "kind_label": VOCABULARY.item_kinds[self.kind],
            "refused": self.refused,
            "conversation_id": self.conversation_id,
            "turn": self.turn,
            "question": self.question,
            "answer": self.answer,
            "intent": self.intent,
            "created_at": _iso(self.created_at),
            "reason": self.reason,
            "reason_label": VOCABULARY.reasons.get(self.reason or "", None),
            "comment": self.comment,
            "citations": self.citations,
        }


@dataclass
class GapGroup:
    shingles: frozenset[str]
    items: list[GapItem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        newest = max(self.items, key=lambda item: item.created_at)
        return {
            "question": newest.question,
            "count": len(self.items),
            "refusals": sum(item.refused for item in self.items),
            "downs": sum(item.kind == "down" for item in self.items),
            "last_seen": _iso(newest.created_at),
            "items": [item.to_dict() for item in self.items[: VOCABULARY.items_per_group]],
        }


def _iso(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.isoformat(timespec="seconds")


def _sort_key(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _refusal_item(turn: StoredTurn) -> GapItem:
    return GapItem("refusal", turn.conversation_id, turn.turn, turn.message, turn.answer, turn.intent, turn.created_at)


def _down_item(row: Feedback) -> GapItem:
    return GapItem(
        "down",
        row.conversation_id,
        row.turn_id,
        row.question,
        row.answer,
        row.intent,
        row.created_at,
        reason=row.reason,
        comment=row.comment,
        citations=list(row.citations or []),
    )


def gap_items(memory: ConversationMemory) -> list[GapItem]:
    """The newest refusals and 👎 answers, newest first; a refused answer rated 👎 appears once, as a 👎."""
    limit = VOCABULARY.view_limit
    items = {
        (t.conversation_id, t.turn): _refusal_item(t)
        for t in memory.turns_with_intent(VOCABULARY.refusal_intent, limit)
    }
    with Session(memory.engine) as session:
        downs = session.scalars(
            select(Feedback).where(Feedback.rating == "down").order_by(Feedback.id.desc()).limit(limit)
        )
        for row in downs:
            items[(row.conversation_id, row.turn_id)] = _down_item(row)
    return sorted(items.values(), key=lambda item: _sort_key(item.created_at), reverse=True)


def group_similar(items: Iterable[GapItem], threshold: float | None = None) -> list[GapGroup]:
    """Greedy single pass: each item joins the most similar group at or above the threshold, else starts one.
    Groups come back largest first, then most recently seen."""
    limit = VOCABULARY.similar_question_threshold if threshold is None else threshold
    groups: list[GapGroup] = []
    for item in items:
        shingles = question_shingles(item.question)
        best = max(groups, key=lambda group: _jaccard(shingles, group.shingles), default=None)
        if best is not None and _jaccard(shingles, best.shingles) >= limit:
            best.items.append(item)
        else:
            groups.append(GapGroup(shingles, [item]))
    return sorted(groups, key=lambda g: (-len(g.items), -max(_sort_key(i.created_at) for i in g.items).timestamp()))


def quality_view(memory: ConversationMemory) -> dict[str, Any]:
    """Totals of 👍, 👎 and refusals, and the content gaps grouped by similar question."""
    with Session(memory.engine) as session:
        counts = dict(session.execute(select(Feedback.rating, func.count()).group_by(Feedback.rating)).all())
    items = gap_items(memory)
    return {
        "totals": {
            "up": counts.get("up", 0),
            "down": counts.get("down", 0),
            "refused": sum(item.refused for item in items),
        },
        "groups": [group.to_dict() for group in group_similar(items)],
        "labels": {"reasons": VOCABULARY.reasons, "kinds": VOCABULARY.item_kinds},
    }


# --- CSV export -----------------------------------------------------------------------------------------
CSV_COLUMNS = (
    "group",
    "kind",
    "rating",
    "reason",
    "comment",
    "question",
    "answer",
    "intent",
    "citations",
    "conversation_id",
    "turn",
    "embedding_model",
    "llm",
    "llm_model",
    "created_at",
)


def export_rows(memory: ConversationMemory) -> Iterator[dict[str, Any]]:
    """Every rating (👍 and 👎) and every refusal not rated, with its content-gap group number (1 = largest)."""
    group_of: dict[tuple[str, int], int] = {}
    for number, group in enumerate(group_similar(gap_items(memory)), start=1):
        for item in group.items:
            group_of[(item.conversation_id, item.turn)] = number
    with Session(memory.engine) as session:
        rated = list(session.scalars(select(Feedback).order_by(Feedback.id)))
    seen = {(row.conversation_id, row.turn_id) for row in rated}
    for row in rated:
        key = (row.conversation_id, row.turn_id)
        settings = row.answer_settings or {}
        yield {
            "group": group_of.get(key, ""),
            "kind": "rating",
            "rating": VOCABULARY.ratings[row.rating],
            "reason": VOCABULARY.reasons.get(row.reason or "", ""),
            "comment": row.comment or "",
            "question": row.question,
            "answer": row.answer,
            "intent": row.intent,
            "citations": " ".join(f"{c.get('document_id')}#{c.get('chunk_id')}" for c in row.citations or []),
            "conversation_id": row.conversation_id,
            "turn": row.turn_id,
            "embedding_model": settings.get("embedding_model", ""),
            "llm": settings.get("llm", ""),
            "llm_model": settings.get("llm_model") or "",
            "created_at": _iso(row.created_at),
        }
    for turn in reversed(memory.turns_with_intent(VOCABULARY.refusal_intent, VOCABULARY.view_limit)):
        key = (turn.conversation_id, turn.turn)
        if key in seen:
            continue
        yield {
            "group": group_of.get(key, ""),
            "kind": "refusal",
            "rating": "",
            "reason": "",
            "comment": "",
            "question": turn.message,
            "answer": turn.answer,
            "intent": turn.intent,
            "citations": "",
            "conversation_id": turn.conversation_id,
            "turn": turn.turn,
            "embedding_model": "",
            "llm": "",
            "llm_model": "",
            "created_at": _iso(turn.created_at),
        }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (a reader's question may start with "=") gets a leading '."""
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def write_csv(rows: Iterable[dict[str, Any]], out: IO[str]) -> None:
    """CSV with a header row; the caller writes a UTF-8 BOM first when Excel is the reader."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
