"""Answers looked up in the SQL records, rendered with templates, each citing the record's source passage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.citations import Citations
from assistant.understanding import Understanding
from knowledge.text import compact
from records import queries
from records.dates import format_era_date, format_time_range
from records.event_kinds import EVENT_KINDS
from records.models import Block, Event


@dataclass
class RecordAnswer:
    text: str
    records: list[dict[str, Any]] = field(default_factory=list)


def answer_from_records(
    engine: Engine, u: Understanding, *, ward: str | None, as_of: date, citations: Citations
) -> RecordAnswer | None:
    """A templated answer, or None when the records do not cover the question (passages take over)."""
    with Session(engine) as session:
        if u.area is not None and u.event_kind is not None:
            return _area_events(session, u, as_of, citations)
        if "members" in u.attributes and (u.blocks or u.wards) and not u.wants_next:
            return _membership(session, u, citations)
        if "survey" in u.attributes and (u.event_kind or u.part):
            return _surveys(session, u, citations)
        if u.event_kind is None:
            return None
        asker_ward = u.wards[0] if u.wards else (ward if u.my_ward or not u.blocks else None)
        block = _block(session, u, asker_ward)
        if block is None and u.my_ward and ward is None:
            return RecordAnswer(
                "お住まいの区（または担当の区）が分からないため、ブロックを特定できません。画面で区を選ぶか、区名を添えて質問してください。"
            )
        if u.wants_next:
            return _next_event(session, u.event_kind, block, as_of, citations)
        events = queries.list_events(session, kind=u.event_kind, block=block.name if block else None)
        if "which_wards" in u.attributes and not u.blocks:
            return _presenting_wards(events, citations)
        if u.venue:
            events = [event for event in events if event.venue == u.venue]
        if u.month_days:
            events = [e for e in events if e.date is not None and (e.date.month, e.date.day) in u.month_days]
        if u.part:
            events = [event for event in events if event.part == u.part]
        elif any(event.parent_id is None for event in events) and "participants" not in u.attributes:
            events = [event for event in events if event.parent_id is None]
        return _render_events(events, as_of, citations, u)


def _area_events(session: Session, u: Understanding, as_of: date, citations: Citations) -> RecordAnswer | None:
    """Events of another municipality's reports (亘理町の研修会): a bare 研修 means any of its trainings."""
    kind = None if u.event_kind == "block_training" and not u.blocks else u.event_kind
    if u.wants_next:
        result = queries.next_event(session, kind=kind, area=u.area, as_of=as_of)
        label = EVENT_KINDS[kind] if kind else "研修・行事"
        return _render_next(result, f"{u.area}の{label}", as_of, citations)
    events = queries.list_events(session, kind=kind, area=u.area)
    if u.venue:
        events = [event for event in events if event.venue == u.venue]
    if u.month_days:
        events = [e for e in events if e.date is not None and (e.date.month, e.date.day) in u.month_days]
    return _render_events([event for event in events if event.parent_id is None] or events, as_of, citations, u)


def _block(session: Session, u: Understanding, ward: str | None) -> Block | None:
    if u.blocks:
        return queries.resolve_block(session, u.blocks[0])
    if ward:
        return queries.block_of_ward(session, ward)
    return None


def _membership(session: Session, u: Understanding, citations: Citations) -> RecordAnswer | None:
    if u.blocks:
        named = queries.resolve_block(session, u.blocks[0])
        n = citations.cite_quote(named.document_id, named.quote)
        if n is None:
            return None
        return RecordAnswer(f"{named.name}には、{'、'.join(named.ward_names)}が含まれます [{n}]", [named.to_dict()])
    ward = u.wards[0]
    block = queries.block_of_ward(session, ward)
    if block is None:
        return None
    n = citations.cite_quote(block.document_id, block.quote)
    if n is None:
        return None
    return RecordAnswer(f"{ward}は{block.name}です（{'、'.join(block.ward_names)}） [{n}]", [block.to_dict()])


def _next_event(
    session: Session, kind: str, block: Block | None, as_of: date, citations: Citations
) -> RecordAnswer | None:
    result = queries.next_event(session, kind=kind, block=block.name if block else None, as_of=as_of)
    where = f"{block.name}の" if block else ""
    return _render_next(result, f"{where}{EVENT_KINDS.get(kind, kind)}", as_of, citations)


def _render_next(result: queries.NextEventResult, label: str, as_of: date, citations: Citations) -> RecordAnswer | None:
    if result.upcoming is not None:
        line = _event_line(result.upcoming, as_of, citations)
        if line is None:
            return None
        return RecordAnswer(f"{format_era_date(as_of)}時点で次の{label}は、{line}", [result.upcoming.to_dict()])
    if result.most_recent_past is None:
        return RecordAnswer(f"{label}の予定は資料に見つかりません。")
    line = _event_line(result.most_recent_past, as_of, citations)
    if line is None:
        return None
    return RecordAnswer(
        f"{format_era_date(as_of)}以降に予定されている{label}は、資料には見つかりません（予定されていた回は終了しています）。"
        f"直近に開催されたのは、{line}",
        [result.most_recent_past.to_dict()],
    )


# The event field that holds each fact a question can ask for: a record answer must hold the one asked.
ASKED_FIELDS: dict[str, str] = {
    "venue": "venue", "lecturer": "lecturer_name", "affiliation": "lecturer_affiliation", "date": "date",
    "participants": "counts", "theme": "theme",
}  # fmt: skip


def _render_events(events: list[Event], as_of: date, citations: Citations, u: Understanding) -> RecordAnswer | None:
    if not events:
        return None
    asked = [ASKED_FIELDS[name] for name in u.attributes if name in ASKED_FIELDS]
    if asked and not any(getattr(event, name) for event in events for name in asked):
        return None  # 「報告会の基調講演は誰？」: the records know its dates, not its speaker; the passages may
    lines: list[str] = []
    for event in events[:6]:
        line = _event_line(event, as_of, citations, with_theme="theme" in u.attributes)
        if line is None:
            return None
        if "participants" in u.attributes and event.counts:
            participants = _participants_line(event, citations)
            if participants is None:
                return None
            line += "\n" + participants
        lines.append(line)
    return RecordAnswer("\n".join(lines), [event.to_dict() for event in events[:6]])


def _event_line(event: Event, as_of: date, citations: Citations, *, with_theme: bool = False) -> str | None:
    n = citations.cite_quote(event.document_id, event.quote)
    if n is None:
        return None
    subject = "・".join(event.block_names) or event.title
    if with_theme and event.theme and event.date is not None:
        subject += f"（テーマ：{event.theme}）"
    if event.date is None:  # an earlier session known only by its theme (第1回「…」)
        text = f"{subject}{event.part or ''}" + (f"：{event.theme}" if event.theme else "") + "（日付の記載なし）。"
    else:
        when = format_era_date(event.date, weekday=True)
        time_range = f" {format_time_range(event.start_time, event.end_time)}" if event.start_time else ""
        held = "開催されました" if event.date < as_of else "開催されます"
        place = f"、{event.venue}で" if event.venue else "に"
        text = f"{subject}：{when}{time_range}{place}{held}。"
    who = " ".join(part for part in (event.lecturer_affiliation, event.lecturer_title, event.lecturer_name) if part)
    if who:
        text += f"講師は{who}先生です。" if event.lecturer_name else f"講師：{who}。"
    return f"{text} [{n}]"


def _participants_line(event: Event, citations: Citations) -> str | None:
    """参加者：区担当者43名（うち新任者30名） — every figure cited from the passage it was transcribed from;
    figures from the same passage share one mark."""
    figures: list[tuple[str, int]] = []
    for count in event.counts:
        n = citations.cite_quote(event.document_id, count.quote or event.quote)
        if n is None:
            return None
        figure = f"{count.group}{count.count}{count.unit}"
        figures.append((f"（うち{figure}）" if count.subset_of else f"、{figure}", n))
    text = ""
    for index, (figure, n) in enumerate(figures):
        last_of_passage = index + 1 == len(figures) or figures[index + 1][1] != n
        text += figure + (f" [{n}]" if last_of_passage else "")
    return "参加者：" + text.removeprefix("、")


def _presenting_wards(events: list[Event], citations: Citations) -> RecordAnswer | None:
    """「…を報告した区はどこ？」: the wards that presented at an event (None when no event records any)."""
    lines: list[str] = []
    shown: list[Event] = []
    for event in events:
        wards = event.ward_names("presenter")
        if not wards:
            continue
        n = citations.cite_quote(event.document_id, event.quote)
        if n is None:
            return None
        topic = f"（{event.theme}）" if event.theme else ""
        lines.append(f"{event.title}{event.part or ''}{topic}では、{'・'.join(wards)}が報告しました。 [{n}]")
        shown.append(event)
    return RecordAnswer("\n".join(lines), [event.to_dict() for event in shown]) if lines else None


def _surveys(session: Session, u: Understanding, citations: Citations) -> RecordAnswer | None:
    """Survey results of the events the question names (回収数, 回収率; the records carry the option counts)."""
    events = queries.list_events(session, kind=u.event_kind, block=u.blocks[0] if u.blocks else None)
    if u.part:
        events = [event for event in events if event.part == u.part]
    surveys = list({s.id: s for event in events for s in queries.surveys_for_event(session, event)}.values())
    if u.part:
        part_ids = {event.id for event in events}
        surveys = [s for s in surveys if s.event_id in part_ids]
    surveys = [s for s in surveys if s.responses is not None or s.response_rate is not None]
    if not surveys:
        return None
    lines: list[str] = []
    for survey in surveys[:4]:
        n = citations.cite_quote(survey.document_id, survey.quote)
        if n is None:
            return None
        figures = []
        if survey.responses is not None:
            figures.append(f"回収数{survey.responses}")
        if survey.response_rate is not None:
            figures.append(f"回収率{survey.response_rate:g}％")
        subject = survey.title
        if survey.event_id:
            event = queries.get_event(session, survey.event_id)
            subject = f"{event.title}{event.part or ''}の{survey.title}"
        lines.append(f"{subject}：{'、'.join(figures)} [{n}]")
    return RecordAnswer("\n".join(lines), [s.to_dict() for s in surveys[:4]])


@dataclass(frozen=True)
class RecordNames:
    """What the records name, for reading a question: venues and areas (longest first, so 東成区民センター wins
    over a shorter name inside it), and every name they hold — venues, lecturers and their affiliations,
    titles, blocks, areas — compacted: a question naming anything else is not about the records."""

    venues: list[str]
    areas: list[str]
    names: frozenset[str]


def record_names(engine: Engine) -> RecordNames:
    with Session(engine) as session:
        events = queries.list_events(session)
        blocks = queries.list_blocks(session)
        areas = queries.list_areas(session)
    venues = sorted({event.venue for event in events if event.venue}, key=len, reverse=True)
    names = (
        {
            compact(value)
            for event in events
            for value in (event.venue, event.lecturer_name, event.lecturer_affiliation, event.title, event.theme)
            if value
        }
        | {compact(block.name) for block in blocks}
        | {compact(area) for area in areas}
    )
    return RecordNames(venues, areas, frozenset(names))
