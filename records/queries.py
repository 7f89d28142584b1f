"""Typed look-ups over the records; each takes a SQLAlchemy ``Session`` and returns ORM records.

Serialise any record with :func:`record_to_dict` (``{type, id, ...fields, source}``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session

from knowledge.text import compact
from records.event_kinds import EVENT_KINDS
from records.models import (
    RECORD_MODELS,
    Block,
    BlockWard,
    Event,
    EventBlock,
    EventWard,
    Finding,
    OnboardingStep,
    Record,
    SupportActivity,
    Survey,
    Ward,
)
from records.reference import canonical_ward_name, close_ward_names


class RecordLookupError(LookupError):
    """A name or id that matches no record; ``suggestions`` holds close matches."""

    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        self.suggestions = suggestions or []
        if self.suggestions:
            message += f" (did you mean: {', '.join(self.suggestions)}?)"
        super().__init__(message)


class UnknownWardError(RecordLookupError):
    pass


class UnknownBlockError(RecordLookupError):
    pass


class UnknownEventKindError(RecordLookupError):
    pass


# ---------------------------------------------------------------- wards and blocks


def resolve_ward(session: Session, name: str) -> Ward:
    """The ward for 鶴見区, 大阪市鶴見区, 鶴見区役所 (full-width/spaced forms too)."""
    canonical = canonical_ward_name(name)
    ward = session.scalar(select(Ward).where(Ward.name == canonical)) if canonical else None
    if ward is None:
        raise UnknownWardError(f"unknown ward {name!r}", close_ward_names(name))
    return ward


def resolve_block(session: Session, name: str) -> Block:
    """A block by name (北ブロック), its stem (北), or id (block-north)."""
    wanted = compact(name)
    blocks = list(session.scalars(select(Block).order_by(Block.name)))
    for block in blocks:
        if wanted in {block.id, block.name, block.name.removesuffix("ブロック")}:
            return block
    names = [block.name for block in blocks]
    raise UnknownBlockError(f"unknown block {name!r}", difflib.get_close_matches(wanted, names, n=3, cutoff=0.3))


def block_of_ward(session: Session, ward: str | Ward) -> Block | None:
    """The block a ward belongs to (None if no record file assigns it)."""
    ward_row = ward if isinstance(ward, Ward) else resolve_ward(session, ward)
    return session.scalar(
        select(Block).join(BlockWard, BlockWard.block_id == Block.id).where(BlockWard.ward_id == ward_row.id)
    )


def wards_of_block(session: Session, block: str | Block) -> list[Ward]:
    block_row = block if isinstance(block, Block) else resolve_block(session, block)
    return list(
        session.scalars(
            select(Ward)
            .join(BlockWard, BlockWard.ward_id == Ward.id)
            .where(BlockWard.block_id == block_row.id)
            .order_by(BlockWard.ordinal)
        )
    )


def list_wards(session: Session) -> list[Ward]:
    return list(session.scalars(select(Ward).order_by(Ward.id)))


def list_blocks(session: Session) -> list[Block]:
    return list(session.scalars(select(Block).order_by(Block.id)))


# ---------------------------------------------------------------- events


def resolve_event_kind(kind: str) -> str:
    """An event kind by key (block_training) or Japanese label (ブロック別多職種研修会)."""
    if kind in EVENT_KINDS:
        return kind
    for key, label in EVENT_KINDS.items():
        if compact(kind) == compact(label):
            return key
    raise UnknownEventKindError(
        f"unknown event kind {kind!r}", difflib.get_close_matches(kind, list(EVENT_KINDS), n=3, cutoff=0.3)
    )


def _scope_filter(session: Session, *, block: str | None, ward: str | None, include_citywide: bool) -> Any:
    """Events for a ward (its own, its block's, and city-wide ones) or for a block."""
    conditions: list[ColumnElement[bool]] = []
    block_name: str | None = None
    if ward is not None:
        ward_row = resolve_ward(session, ward)
        conditions.append(
            exists().where(
                EventWard.event_id == Event.id, EventWard.ward_id == ward_row.id, EventWard.role == "audience"
            )
        )
        ward_block = block_of_ward(session, ward_row)
        block_name = ward_block.name if ward_block else None
    if block is not None:
        block_name = resolve_block(session, block).name
    if block_name is not None:
        conditions.append(exists().where(EventBlock.event_id == Event.id, EventBlock.block_name == block_name))
    if include_citywide:
        conditions.append(
            ~exists().where(EventBlock.event_id == Event.id)
            & ~exists().where(EventWard.event_id == Event.id, EventWard.role == "audience")
        )
    return or_(*conditions)


def list_events(
    session: Session,
    *,
    kind: str | None = None,
    block: str | None = None,
    ward: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    fiscal_year: int | None = None,
    include_citywide: bool = True,
    area: str | None = None,
) -> list[Event]:
    """Events in date order (undated ones last). With ``ward`` or ``block``: the events of that ward
    or block, plus city-wide events unless ``include_citywide=False``. With ``area``: the events of that
    municipality or ward as its documents name it (亘理町)."""
    query = select(Event)
    if kind is not None:
        query = query.where(Event.kind == resolve_event_kind(kind))
    if area is not None:
        query = query.where(Event.area == area.strip())
    if block is not None or ward is not None:
        query = query.where(_scope_filter(session, block=block, ward=ward, include_citywide=include_citywide))
    if date_from is not None:
        query = query.where(Event.date >= date_from)
    if date_to is not None:
        query = query.where(Event.date <= date_to)
    if fiscal_year is not None:
        query = query.where(Event.fiscal_year == fiscal_year)
    query = query.order_by(Event.date.is_(None), Event.date, Event.start_time, Event.id)
    return list(session.scalars(query))


def list_areas(session: Session) -> list[str]:
    """The municipalities and wards events are recorded for (亘理町, 鶴見区), longest first so that a question
    naming 亘理町中央 matches the longer name."""
    names = session.scalars(select(Event.area).where(Event.area.is_not(None)).distinct())
    return sorted((name for name in names if name), key=len, reverse=True)


@dataclass(frozen=True)
class NextEventResult:
    upcoming: Event | None
    most_recent_past: Event | None
    as_of: date

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "upcoming": record_to_dict(self.upcoming) if self.upcoming else None,
            "most_recent_past": record_to_dict(self.most_recent_past) if self.most_recent_past else None,
        }


def next_event(
    session: Session,
    *,
    kind: str | None,
    ward: str | None = None,
    block: str | None = None,
    as_of: date,
    area: str | None = None,
) -> NextEventResult:
    """The first dated event of ``kind`` (any kind when None) on or after ``as_of``, and the last one before it.

    For a ward: events of its block, for the ward itself, or city-wide. For an ``area`` (亘理町): the events
    of that municipality's documents. Parts of an event (第1部, 第2部) are represented by their parent event.
    """
    dated = [
        (event.date, event)
        for event in list_events(session, kind=kind, block=block, ward=ward, area=area)
        if event.date is not None and event.parent_id is None
    ]
    upcoming = next((event for day, event in dated if day >= as_of), None)
    past = [event for day, event in dated if day < as_of]
    return NextEventResult(upcoming=upcoming, most_recent_past=past[-1] if past else None, as_of=as_of)


def get_event(session: Session, event_id: str) -> Event:
    event = session.get(Event, event_id)
    if event is None:
        raise RecordLookupError(f"unknown event {event_id!r}")
    return event


def event_parts(session: Session, event: Event | str) -> list[Event]:
    parent_id = event.id if isinstance(event, Event) else event
    return list(session.scalars(select(Event).where(Event.parent_id == parent_id).order_by(Event.part, Event.id)))


# ---------------------------------------------------------------- surveys and the rest


def survey_for_event(session: Session, event: Event | str) -> Survey | None:
    event_id = event.id if isinstance(event, Event) else event
    return session.scalar(select(Survey).where(Survey.event_id == event_id).order_by(Survey.id))


def surveys_for_event(session: Session, event: Event | str) -> list[Survey]:
    """Surveys of an event and of its parts."""
    event_id = event.id if isinstance(event, Event) else event
    part_ids = select(Event.id).where(Event.parent_id == event_id)
    query = select(Survey).where(or_(Survey.event_id == event_id, Survey.event_id.in_(part_ids)))
    return list(session.scalars(query.order_by(Survey.id)))


def get_survey(session: Session, survey_id: str) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise RecordLookupError(f"unknown survey {survey_id!r}")
    return survey


def list_surveys(session: Session, *, fiscal_year: int | None = None) -> list[Survey]:
    query = select(Survey)
    if fiscal_year is not None:
        query = query.where(Survey.fiscal_year == fiscal_year)
    return list(session.scalars(query.order_by(Survey.fiscal_year, Survey.id)))


def list_findings(
    session: Session,
    *,
    subject: str | None = None,
    category: str | None = None,
    ward: str | None = None,
    fiscal_year: int | None = None,
) -> list[Finding]:
    query = select(Finding)
    if subject is not None:
        query = query.where(Finding.subject == subject)
    if category is not None:
        query = query.where(Finding.category == category)
    if ward is not None:
        query = query.where(Finding.ward_id == resolve_ward(session, ward).id)
    if fiscal_year is not None:
        query = query.where(Finding.fiscal_year == fiscal_year)
    return list(session.scalars(query.order_by(Finding.record_file, Finding.id)))


def list_onboarding_steps(session: Session) -> list[OnboardingStep]:
    return list(session.scalars(select(OnboardingStep).order_by(OnboardingStep.ordinal, OnboardingStep.id)))


def list_support_activities(session: Session, *, target: str | None = None) -> list[SupportActivity]:
    query = select(SupportActivity)
    if target is not None:
        query = query.where(SupportActivity.target == target)
    return list(session.scalars(query.order_by(SupportActivity.period_start, SupportActivity.id)))


def count_records(session: Session) -> dict[str, int]:
    """Number of records of each type (and ``total``); wards are reference data and not counted."""
    counts = {
        name: session.scalar(select(func.count()).select_from(model)) or 0 for name, model in RECORD_MODELS.items()
    }
    counts["total"] = sum(counts.values())
    return counts


def record_to_dict(record: Record) -> dict[str, Any]:
    """``{type, id, ...fields, source: {document_id, section, quote}}`` for any record."""
    return record.to_dict()
