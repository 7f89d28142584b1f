"""Conversation memory in SQL, keyed by ``conversation_id``: follow-ups resolve against earlier turns."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

MAX_TURNS_KEPT = 20


class MemoryBase(DeclarativeBase):
    pass


class Conversation(MemoryBase):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=lambda: datetime.now(UTC))


class Turn(MemoryBase):
    __tablename__ = "conversation_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    message: Mapped[str] = mapped_column(Text)
    resolved: Mapped[str] = mapped_column(Text)  # the message with what it left implicit filled in
    intent: Mapped[str] = mapped_column(String(32))
    entities: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    answer: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class StoredTurn:
    """A turn as the reader's history and the feedback views show it."""

    conversation_id: str
    turn: int  # the turn's id: stable while the turn is kept
    message: str
    answer: str
    intent: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "turn": self.turn,
            "question": self.message,
            "answer": self.answer,
            "intent": self.intent,
            "created_at": self.created_at.isoformat(timespec="seconds"),
        }


def _stored(turn: Turn) -> StoredTurn:
    return StoredTurn(turn.conversation_id, turn.id, turn.message, turn.answer, turn.intent, turn.created_at)


@dataclass
class PreviousTurn:
    message: str
    resolved: str
    intent: str
    entities: dict[str, Any] = field(default_factory=dict)


class ConversationMemory:
    """The conversation tables of the database opened by ``knowledge.database.open_database`` (which made them)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def last_turn(self, conversation_id: str) -> PreviousTurn | None:
        with Session(self.engine) as session:
            turn = session.scalars(
                select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.id.desc()).limit(1)
            ).first()
            if turn is None:
                return None
            return PreviousTurn(turn.message, turn.resolved, turn.intent, json.loads(turn.entities or "{}"))

    def turns(self, conversation_id: str) -> list[StoredTurn] | None:
        """The kept turns of a conversation, oldest first; None when there is no such conversation."""
        with Session(self.engine) as session:
            if session.get(Conversation, conversation_id) is None:
                return None
            rows = session.scalars(select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.id))
            return [_stored(turn) for turn in rows]

    def turn(self, conversation_id: str, turn_id: int) -> StoredTurn | None:
        with Session(self.engine) as session:
            turn = session.get(Turn, turn_id)
            return _stored(turn) if turn is not None and turn.conversation_id == conversation_id else None

    def turns_with_intent(self, intent: str, limit: int) -> list[StoredTurn]:
        """The latest turns answered with ``intent`` (e.g. the refusals), newest first."""
        with Session(self.engine) as session:
            rows = session.scalars(select(Turn).where(Turn.intent == intent).order_by(Turn.id.desc()).limit(limit))
            return [_stored(turn) for turn in rows]

    def append(
        self, conversation_id: str, message: str, resolved: str, intent: str, entities: dict[str, Any], answer: str
    ) -> None:
        with Session(self.engine) as session, session.begin():
            if session.get(Conversation, conversation_id) is None:
                session.add(Conversation(id=conversation_id))
                session.flush()
            session.add(
                Turn(
                    conversation_id=conversation_id,
                    message=message,
                    resolved=resolved,
                    intent=intent,
                    entities=json.dumps(entities, ensure_ascii=False, default=str),
                    answer=answer,
                )
            )
            old = session.scalars(
                select(Turn.id)
                .where(Turn.conversation_id == conversation_id)
                .order_by(Turn.id.desc())
                .offset(MAX_TURNS_KEPT)
            ).all()
            for turn_id in old:
                session.delete(session.get(Turn, turn_id))
