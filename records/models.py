"""SQLAlchemy 2 models of the structured records.

Every transcribed record carries provenance (``document_id``, ``section``, ``quote``) and the
record file it was loaded from. Cross-record references (an event's blocks, a survey's event,
a part's parent event) are stored as plain ids/names and checked when a file is loaded, so one
record file can be replaced without touching records loaded from another.
Wards are reference data seeded by the initial migration (``records/reference.py``).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from records.event_kinds import EVENT_KINDS
from records.reference import ward_aliases

EVENT_STATUSES: dict[str, str] = {"held": "開催済", "planned": "開催予定", "written": "書面開催", "cancelled": "中止"}
SUBJECTS: dict[str, str] = {"ward_office": "区役所", "support_office": "相談支援室"}
FINDING_CATEGORIES: dict[str, str] = {"achievement": "取組み内容", "challenge": "課題", "plan": "今後の取組み"}
WARD_ROLES: dict[str, str] = {"audience": "対象", "presenter": "報告・発表"}


class Base(DeclarativeBase):
    pass


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _hhmm(value: time | None) -> str | None:
    return f"{value.hour:02d}:{value.minute:02d}" if value else None


class RecordFile(Base):
    """One loaded record file; ``sha256`` is None when its last load reported errors."""

    __tablename__ = "record_files"

    path: Mapped[str] = mapped_column(String(500), primary_key=True)  # POSIX, relative to the corpus root
    document_id: Mapped[str | None] = mapped_column(String(500))
    sha256: Mapped[str | None] = mapped_column(String(64))
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Provenance:
    """Columns every transcribed record has."""

    record_file: Mapped[str] = mapped_column(String(500), index=True)
    document_id: Mapped[str] = mapped_column(String(500), index=True)
    section: Mapped[str] = mapped_column(Text, default="")
    quote: Mapped[str] = mapped_column(Text)

    def source(self) -> dict[str, str]:
        return {"document_id": self.document_id, "section": self.section, "quote": self.quote}


class Ward(Base):
    """One of the 24 wards of Osaka City (reference data, seeded by the migration)."""

    __tablename__ = "wards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the city's official order, 1..24
    name: Mapped[str] = mapped_column(String(20), unique=True)
    memberships: Mapped[list[BlockWard]] = relationship(lazy="selectin", viewonly=True)

    @property
    def aliases(self) -> tuple[str, ...]:
        return ward_aliases(self.name)

    @property
    def block(self) -> Block | None:
        return self.memberships[0].block if self.memberships else None

    def to_dict(self) -> dict[str, Any]:
        block = self.block
        return {
            "type": "ward",
            "id": self.name,
            "name": self.name,
            "aliases": list(self.aliases),
            "block": block.name if block else None,
            "source": block.source() if block else None,
        }


class Block(Provenance, Base):
    """A block (ブロック, 基本保健医療圏域) grouping wards."""

    __tablename__ = "blocks"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    fiscal_year: Mapped[int | None] = mapped_column(Integer)
    members: Mapped[list[BlockWard]] = relationship(
        back_populates="block", cascade="all, delete-orphan", order_by="BlockWard.ordinal", lazy="selectin"
    )

    @property
    def ward_names(self) -> list[str]:
        return [member.ward.name for member in self.members]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "block",
            "id": self.id,
            "name": self.name,
            "fiscal_year": self.fiscal_year,
            "wards": self.ward_names,
            "source": self.source(),
        }


class BlockWard(Base):
    __tablename__ = "block_wards"

    block_id: Mapped[str] = mapped_column(ForeignKey("blocks.id", ondelete="CASCADE"), primary_key=True)
    ward_id: Mapped[int] = mapped_column(ForeignKey("wards.id"), primary_key=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    block: Mapped[Block] = relationship(back_populates="members", lazy="joined")
    ward: Mapped[Ward] = relationship(lazy="joined", viewonly=True)


class Event(Provenance, Base):
    """A training, briefing, meeting or session (or one part of one, see ``parent_id``)."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(Text)
    part: Mapped[str | None] = mapped_column(String(50))  # 第1部
    parent_id: Mapped[str | None] = mapped_column(String(100), index=True)
    theme: Mapped[str | None] = mapped_column(Text)
    programme: Mapped[list[str]] = mapped_column(JSON, default=list)
    fiscal_year: Mapped[int | None] = mapped_column(Integer, index=True)
    date: Mapped[date | None] = mapped_column(Date, index=True)
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    recurrence: Mapped[str | None] = mapped_column(String(50))  # 毎月
    status: Mapped[str | None] = mapped_column(String(20))
    venue: Mapped[str | None] = mapped_column(Text)
    # The municipality or ward the event belongs to (亘理町, 鶴見区), as its document names it; None for the
    # corpus's own city-wide events. Ward links (``wards``) only cover the city's reference wards.
    area: Mapped[str | None] = mapped_column(String(100), index=True)
    lecturer_name: Mapped[str | None] = mapped_column(String(200))
    lecturer_title: Mapped[str | None] = mapped_column(String(200))
    lecturer_affiliation: Mapped[str | None] = mapped_column(Text)
    audience: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    blocks: Mapped[list[EventBlock]] = relationship(
        cascade="all, delete-orphan", order_by="EventBlock.ordinal", lazy="selectin"
    )
    wards: Mapped[list[EventWard]] = relationship(
        cascade="all, delete-orphan", order_by="EventWard.ordinal", lazy="selectin"
    )
    counts: Mapped[list[ParticipantCount]] = relationship(
        cascade="all, delete-orphan", order_by="ParticipantCount.ordinal", lazy="selectin"
    )

    @property
    def block_names(self) -> list[str]:
        return [link.block_name for link in self.blocks]

    def ward_names(self, role: str = "audience") -> list[str]:
        return [link.ward.name for link in self.wards if link.role == role]

    @property
    def kind_label(self) -> str:
        return EVENT_KINDS.get(self.kind, self.kind)

    def count_of(self, group: str) -> int | None:
        """The count of a participant group, by its label (e.g. ``区担当者``)."""
        return next((c.count for c in self.counts if c.group == group), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "event",
            "id": self.id,
            "kind": self.kind,
            "kind_label": self.kind_label,
            "title": self.title,
            "part": self.part,
            "parent_id": self.parent_id,
            "theme": self.theme,
            "programme": list(self.programme or []),
            "fiscal_year": self.fiscal_year,
            "date": _iso(self.date),
            "start_time": _hhmm(self.start_time),
            "end_time": _hhmm(self.end_time),
            "recurrence": self.recurrence,
            "status": self.status,
            "venue": self.venue,
            "area": self.area,
            "lecturer": {
                "name": self.lecturer_name,
                "title": self.lecturer_title,
                "affiliation": self.lecturer_affiliation,
            }
            if self.lecturer_name or self.lecturer_affiliation
            else None,
            "audience": self.audience,
            "blocks": self.block_names,
            "wards": self.ward_names("audience"),
            "presenter_wards": self.ward_names("presenter"),
            "participants": [count.to_dict() for count in self.counts],
            "note": self.note,
            "source": self.source(),
        }


class EventBlock(Base):
    __tablename__ = "event_blocks"

    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    block_name: Mapped[str] = mapped_column(String(50), primary_key=True, index=True)
    ordinal: Mapped[int] = mapped_column(Integer)


class EventWard(Base):
    __tablename__ = "event_wards"

    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    ward_id: Mapped[int] = mapped_column(ForeignKey("wards.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    ward: Mapped[Ward] = relationship(lazy="joined")


class ParticipantCount(Base):
    """参加者 43名 うち新任 30名: one row per group; ``subset_of`` names the group it is part of."""

    __tablename__ = "participant_counts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    group: Mapped[str] = mapped_column(String(100))
    count: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(10), default="名")
    subset_of: Mapped[str | None] = mapped_column(String(100))
    quote: Mapped[str | None] = mapped_column(Text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "count": self.count,
            "unit": self.unit,
            "subset_of": self.subset_of,
            "quote": self.quote,
        }


class Survey(Provenance, Base):
    """A questionnaire, usually of an event: responses, response rate, questions and options."""

    __tablename__ = "surveys"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(Text)
    fiscal_year: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[str | None] = mapped_column(Text)
    responses: Mapped[int | None] = mapped_column(Integer)
    response_rate: Mapped[float | None] = mapped_column(Float)  # percent, e.g. 91.5
    note: Mapped[str | None] = mapped_column(Text)
    questions: Mapped[list[SurveyQuestion]] = relationship(
        cascade="all, delete-orphan", order_by="SurveyQuestion.ordinal", lazy="selectin"
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "survey",
            "id": self.id,
            "event_id": self.event_id,
            "title": self.title,
            "fiscal_year": self.fiscal_year,
            "target": self.target,
            "responses": self.responses,
            "response_rate": self.response_rate,
            "questions": [question.to_dict() for question in self.questions],
            "note": self.note,
            "source": self.source(),
        }


class SurveyQuestion(Base):
    __tablename__ = "survey_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    quote: Mapped[str | None] = mapped_column(Text)
    options: Mapped[list[SurveyOption]] = relationship(
        cascade="all, delete-orphan", order_by="SurveyOption.ordinal", lazy="selectin"
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "options": [{"label": option.label, "count": option.count} for option in self.options],
            "quote": self.quote,
        }


class SurveyOption(Base):
    """An answer option in the order shown; ``count`` is None where the report shows no figure."""

    __tablename__ = "survey_options"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_questions.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(Text)
    count: Mapped[int | None] = mapped_column(Integer)


class Finding(Provenance, Base):
    """What a ward office or support office achieved, found difficult, or plans."""

    __tablename__ = "findings"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    subject: Mapped[str] = mapped_column(String(20))  # ward_office | support_office
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("wards.id"))
    category: Mapped[str] = mapped_column(String(20), index=True)  # achievement | challenge | plan
    fiscal_year: Mapped[int | None] = mapped_column(Integer)
    period: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    ward: Mapped[Ward | None] = relationship(lazy="joined")

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "finding",
            "id": self.id,
            "subject": self.subject,
            "subject_label": SUBJECTS.get(self.subject, self.subject),
            "ward": self.ward.name if self.ward else None,
            "category": self.category,
            "category_label": FINDING_CATEGORIES.get(self.category, self.category),
            "fiscal_year": self.fiscal_year,
            "period": self.period,
            "text": self.text,
            "source": self.source(),
        }


class OnboardingStep(Provenance, Base):
    """A step of the support programme for new coordinators (when, what)."""

    __tablename__ = "onboarding_steps"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    timing: Mapped[str] = mapped_column(String(100))  # 採用月, ３か月まで, ９か月後頃
    description: Mapped[str] = mapped_column(Text)
    fiscal_year: Mapped[int | None] = mapped_column(Integer)
    date: Mapped[date | None] = mapped_column(Date)
    event_id: Mapped[str | None] = mapped_column(String(100))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "onboarding_step",
            "id": self.id,
            "ordinal": self.ordinal,
            "timing": self.timing,
            "description": self.description,
            "fiscal_year": self.fiscal_year,
            "date": _iso(self.date),
            "event_id": self.event_id,
            "source": self.source(),
        }


class SupportActivity(Provenance, Base):
    """Individual support / visits to ward offices or support offices over a period."""

    __tablename__ = "support_activities"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    target: Mapped[str] = mapped_column(String(20))  # ward_office | support_office
    title: Mapped[str] = mapped_column(Text)
    period: Mapped[str | None] = mapped_column(String(100))  # as written: 令和５年４月～６月
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)  # None: still running
    wards_count: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "support_activity",
            "id": self.id,
            "target": self.target,
            "target_label": SUBJECTS.get(self.target, self.target),
            "title": self.title,
            "period": self.period,
            "period_start": _iso(self.period_start),
            "period_end": _iso(self.period_end),
            "wards_count": self.wards_count,
            "content": self.content,
            "note": self.note,
            "source": self.source(),
        }


# A transcribed record of any type: each has an ``id``, the Provenance columns and ``to_dict``.
Record = Block | Event | Survey | Finding | OnboardingStep | SupportActivity

RECORD_MODELS: dict[str, type[Record]] = {
    "block": Block,
    "event": Event,
    "survey": Survey,
    "finding": Finding,
    "onboarding_step": OnboardingStep,
    "support_activity": SupportActivity,
}


DRAFT_STATUSES: dict[str, str] = {"pending": "未確認", "accepted": "採用", "rejected": "却下"}


class RecordDraft(Base):
    """A record proposed by ``records.extraction`` for an admin to accept, edit or reject.

    Drafts never change the live records; accepting one builds a record (``record_id``) from
    ``context`` + ``values`` (or the admin's ``accepted_values``). ``fingerprint`` hashes
    (document_id, kind, quote), so a span already proposed (pending, accepted or rejected) is not
    proposed again.
    """

    __tablename__ = "record_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    document_id: Mapped[str] = mapped_column(String(500), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # event | survey | block
    status: Mapped[str] = mapped_column(String(20), index=True, default="pending")
    confidence: Mapped[float] = mapped_column(Float)
    section: Mapped[str] = mapped_column(Text, default="")
    span_start: Mapped[int] = mapped_column(Integer)
    span_end: Mapped[int] = mapped_column(Integer)
    quote: Mapped[str] = mapped_column(Text)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    pattern: Mapped[str] = mapped_column(String(40), default="")
    accepted_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    record_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "document_id": self.document_id,
            "kind": self.kind,
            "status": self.status,
            "confidence": self.confidence,
            "section": self.section,
            "span": [self.span_start, self.span_end],
            "quote": self.quote,
            "values": self.values,
            "context": self.context,
            "pattern": self.pattern,
            "accepted_values": self.accepted_values,
            "record_id": self.record_id,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


FEEDBACK_RATINGS: tuple[str, ...] = ("up", "down")


class Feedback(Base):
    """A reader's 👍/👎 on one answer, with what was asked and answered and the settings that produced it.

    One row per (conversation, turn): rating again replaces the earlier rating. ``turn_id`` is the
    conversation memory's turn id; question, answer and intent are copied so the row outlives the
    memory's pruning of old turns.
    """

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("conversation_id", "turn_id", name="uq_feedback_turn"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    turn_id: Mapped[int] = mapped_column(Integer)
    rating: Mapped[str] = mapped_column(String(8), index=True)  # up | down
    reason: Mapped[str | None] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(32))
    citations: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # [{document_id, chunk_id}]
    answer_settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # model, llm on/off
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "turn": self.turn_id,
            "rating": self.rating,
            "reason": self.reason,
            "comment": self.comment,
            "question": self.question,
            "answer": self.answer,
            "intent": self.intent,
            "citations": list(self.citations or []),
            "settings": dict(self.answer_settings or {}),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }
