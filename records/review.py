"""Review drafts: list, accept (optionally edited) into live records, reject; export a record file.

An accepted draft becomes a live record validated exactly like a record-file entry (``records.schema``)
and checked against the other records (unknown blocks, ids or wards already used) by the loader's own
checks. Its provenance is the draft's document, section and quote; its ``record_file`` is
``review:draft-<id>``, so loading or deleting hand-kept record files never touches it.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import ValidationError
from sqlalchemy import CursorResult, Result, delete, func, select
from sqlalchemy.orm import Session

from records.dates import format_time_range
from records.loader import LoadContext, build_record, reference_problems
from records.models import Block, Event, RecordDraft, Survey
from records.parsing import ParsedFile, ParsedRecord
from records.schema import BlockIn, EventIn, RecordIn, SurveyIn

REVIEW_PREFIX = "review:"
DRAFT_MODELS: dict[str, type[RecordIn]] = {"event": EventIn, "survey": SurveyIn, "block": BlockIn}
EXPORT_SECTIONS: tuple[tuple[str, type[Any]], ...] = (("blocks", Block), ("events", Event), ("surveys", Survey))


class ReviewError(ValueError):
    """A draft that cannot be accepted or rejected (unknown, already decided, or invalid)."""

    def __init__(self, message: str, code: str = "invalid_draft") -> None:
        super().__init__(message)
        self.code = code


def list_drafts(
    session: Session, *, status: str | None = "pending", document_id: str | None = None, min_confidence: float = 0.0
) -> list[RecordDraft]:
    query = select(RecordDraft).where(RecordDraft.confidence >= min_confidence)
    if status is not None:
        query = query.where(RecordDraft.status == status)
    if document_id is not None:
        query = query.where(RecordDraft.document_id == document_id)
    return list(session.scalars(query.order_by(RecordDraft.document_id, RecordDraft.span_start, RecordDraft.id)))


def pending_counts(session: Session) -> dict[str, int]:
    """Pending drafts per document id."""
    query = (
        select(RecordDraft.document_id, func.count())
        .where(RecordDraft.status == "pending")
        .group_by(RecordDraft.document_id)
    )
    return {document_id: count for document_id, count in session.execute(query)}


def _deleted(result: Result[Any]) -> int:
    """The row count of a DELETE (SQLAlchemy types ``Session.execute`` as ``Result``; a DML statement's is a
    ``CursorResult``)."""
    return cast("CursorResult[Any]", result).rowcount


def forget_document(session: Session, document_id: str, *, remove_records: bool = False) -> dict[str, int]:
    """A deleted document's derived proposals go: its pending drafts are removed (rejected ones are kept,
    so a restored document does not propose them again). Records accepted from its drafts stay unless
    ``remove_records``; then they and their drafts go too. Returns what was removed."""
    pending = _deleted(
        session.execute(
            delete(RecordDraft).where(RecordDraft.document_id == document_id, RecordDraft.status == "pending")
        )
    )
    records = 0
    if remove_records:
        accepted = list(
            session.scalars(
                select(RecordDraft).where(RecordDraft.document_id == document_id, RecordDraft.status == "accepted")
            )
        )
        files = [f"{REVIEW_PREFIX}draft-{draft.id}" for draft in accepted]
        for _, model in EXPORT_SECTIONS:
            for record in session.scalars(select(model).where(model.record_file.in_(files))):
                session.delete(record)
                records += 1
        for draft in accepted:
            session.delete(draft)
    session.flush()
    return {"drafts": pending, "records": records}


def get_draft(session: Session, draft_id: int) -> RecordDraft:
    draft = session.get(RecordDraft, draft_id)
    if draft is None:
        raise ReviewError(f"no draft {draft_id}", code="draft_not_found")
    return draft


def _pending(session: Session, draft_id: int) -> RecordDraft:
    draft = get_draft(session, draft_id)
    if draft.status != "pending":
        raise ReviewError(f"draft {draft_id} is already {draft.status}", code="draft_decided")
    return draft


def apply_edits(record: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    """Merge edits into a record: ``lecturer.name`` keys and nested dicts set nested fields; None or "" removes."""
    result = {key: dict(value) if isinstance(value, dict) else value for key, value in record.items()}
    for key, value in edits.items():
        if isinstance(value, dict) and "." not in key:
            result[key] = apply_edits(result.get(key) or {}, value)
            continue
        head, _, rest = key.partition(".")
        if rest:
            result[head] = apply_edits(result.get(head) or {}, {rest: value})
        elif value is None or value == "":
            result.pop(head, None)
        else:
            result[head] = value
    return result


def draft_record(draft: RecordDraft, edits: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record-file entry a draft would become (``id``, context, values, provenance, then edits)."""
    context = {key: value for key, value in draft.context.items() if not key.startswith("_")}
    record = {
        "id": f"extracted-{draft.kind}-{draft.id}",
        **context,
        **draft.values,
        "section": draft.section or "(unknown)",
        "quote": draft.quote,
    }
    return apply_edits(record, edits or {})


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in error['loc']) or 'record'}: {error['msg']}" for error in exc.errors())


def _parent_draft(session: Session, draft: RecordDraft, entry: dict[str, Any]) -> RecordDraft | None:
    """The whole-event draft a part (第1部) belongs to.

    Same document and date, no part of its own, and its span holds the part's start.
    """
    query = select(RecordDraft).where(
        RecordDraft.document_id == draft.document_id,
        RecordDraft.kind == "event",
        RecordDraft.id != draft.id,
        RecordDraft.status != "rejected",
        RecordDraft.span_start <= draft.span_start,
    )
    for candidate in session.scalars(query.order_by(RecordDraft.span_start.desc(), RecordDraft.id)):
        whole = {**candidate.context, **candidate.values}
        if not whole.get("part") and whole.get("date") == entry.get("date"):
            return candidate
    return None


def _link_parent(session: Session, draft: RecordDraft, entry: dict[str, Any], create_blocks: bool) -> dict[str, Any]:
    """A part's ``parent``: the record its whole-event draft became (accepted first when still pending)."""
    if not entry.get("part") or entry.get("parent") or draft.kind != "event":
        return entry
    parent = _parent_draft(session, draft, entry)
    if parent is None:
        return entry
    if parent.status == "pending":
        accept_draft(session, parent.id, create_blocks=create_blocks)
    return {**entry, "parent": parent.record_id} if parent.record_id else entry


def _missing_blocks(session: Session, names: list[str]) -> list[str]:
    return [name for name in names if session.scalar(select(Block.id).where(Block.name == name)) is None]


def _create_blocks(session: Session, draft: RecordDraft, names: list[str]) -> None:
    """Blocks a draft names that the records do not have yet: created without wards, citing the draft's passage."""
    for name in names:
        block = Block(
            id=f"review-block-{draft.id}-{names.index(name) + 1}", name=name, fiscal_year=None,
            # its own record file name: the event's checks see it as an existing block
            record_file=f"{REVIEW_PREFIX}draft-{draft.id}:blocks", document_id=draft.document_id,
            section=draft.section or "(unknown)", quote=draft.quote,
        )  # fmt: skip
        session.add(block)
    session.flush()


def accept_draft(
    session: Session, draft_id: int, edits: dict[str, Any] | None = None, *, create_blocks: bool = False
) -> dict[str, Any]:
    """Turn a pending draft into a live record (in the caller's transaction); returns the record.

    A part (第1部) is linked to its whole event's record (accepting that draft first if it is pending).
    Blocks the draft names that do not exist yet are created when ``create_blocks`` is set; otherwise the
    draft is refused with code ``confirm_blocks`` so a reviewer can confirm.
    """
    draft = _pending(session, draft_id)
    entry = draft_record(draft, edits)
    try:
        data = DRAFT_MODELS[draft.kind].model_validate(entry)
    except ValidationError as exc:
        raise ReviewError(f"draft {draft_id}: {_validation_message(exc)}") from None
    if isinstance(data, EventIn) and (missing := _missing_blocks(session, list(data.blocks))):
        if not create_blocks:
            raise ReviewError(
                f"draft {draft_id} names blocks the records do not have: {', '.join(missing)}; "
                "confirm to create them (create_blocks)",
                code="confirm_blocks",
            )
        _create_blocks(session, draft, missing)
    linked = _link_parent(session, draft, entry, create_blocks)
    if linked is not entry:
        entry = linked
        data = DRAFT_MODELS[draft.kind].model_validate(entry)
    record_file = f"{REVIEW_PREFIX}draft-{draft.id}"
    parsed = ParsedRecord(draft.kind, data, draft.document_id, Path(draft.document_id), None, f"draft {draft.id}")
    context = LoadContext(
        session, record_file, ParsedFile(Path(record_file), record_file, [parsed], document_id=draft.document_id)
    )
    problems = reference_problems(parsed, context)
    if problems:
        raise ReviewError(f"draft {draft_id}: " + "; ".join(f"{field}: {message}" for field, message in problems))
    record = build_record(parsed, 1, record_file, context)
    session.add(record)
    draft.status, draft.record_id = "accepted", data.id
    draft.accepted_values, draft.decided_at = entry, datetime.now(UTC)
    session.flush()
    return record.to_dict()


def reject_draft(session: Session, draft_id: int) -> RecordDraft:
    draft = _pending(session, draft_id)
    draft.status, draft.decided_at = "rejected", datetime.now(UTC)
    session.flush()
    return draft


def accept_all(session: Session, min_confidence: float) -> tuple[list[int], dict[int, str]]:
    """Accept every pending draft at or above ``min_confidence`` (blocks first, so events can name them).

    Returns (accepted draft ids, {draft id: reason} for those that could not be accepted).
    """
    order = {"block": 0, "event": 1, "survey": 2}
    drafts = sorted(list_drafts(session, min_confidence=min_confidence), key=lambda d: (order.get(d.kind, 9), d.id))
    accepted: list[int] = []
    failed: dict[int, str] = {}
    for draft in drafts:
        try:
            with session.begin_nested():
                accept_draft(session, draft.id)
            accepted.append(draft.id)
        except ReviewError as exc:
            failed[draft.id] = str(exc)
    return accepted, failed


# ---------------------------------------------------------------- export


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _block_entry(block: Block) -> dict[str, Any]:
    return {"id": block.id, "name": block.name, "fiscal_year": block.fiscal_year, "wards": block.ward_names}


def _event_entry(event: Event) -> dict[str, Any]:
    data = event.to_dict()
    participants = [{k: v for k, v in p.items() if not (k == "unit" and v == "名")} for p in data["participants"]]
    return {
        "id": event.id, "kind": event.kind, "title": event.title, "part": event.part, "parent": event.parent_id,
        "theme": event.theme, "programme": list(event.programme or []), "fiscal_year": event.fiscal_year,
        "date": data["date"], "time": format_time_range(event.start_time, event.end_time).replace("～", "~") or None,
        "recurrence": event.recurrence, "status": event.status, "venue": event.venue, "area": event.area,
        "lecturer": data["lecturer"], "audience": event.audience, "blocks": data["blocks"], "wards": data["wards"],
        "presenter_wards": data["presenter_wards"], "participants": participants, "note": event.note,
    }  # fmt: skip


def _survey_entry(survey: Survey) -> dict[str, Any]:
    questions = [
        {
            "text": q.text,
            "quote": q.quote,
            "options": [{"label": o.label, "count": o.count} if o.count is not None else o.label for o in q.options],
        }
        for q in survey.questions
    ]
    return {
        "id": survey.id, "event": survey.event_id, "title": survey.title, "fiscal_year": survey.fiscal_year,
        "target": survey.target, "responses": survey.responses, "response_rate": survey.response_rate,
        "questions": questions, "note": survey.note,
    }  # fmt: skip


ENTRY_BUILDERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "blocks": _block_entry,
    "events": _event_entry,
    "surveys": _survey_entry,
}


def export_records(session: Session, *, only_accepted: bool = True, relative_to: str = "") -> dict[str, Any]:
    """A record file (docs/records.md) of the blocks, events and surveys in the database.

    ``only_accepted``: only records accepted from drafts. ``relative_to``: the corpus-relative directory
    the file will be saved in (document paths are written relative to it).
    """
    sections: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for key, model in EXPORT_SECTIONS:
        query = select(model).order_by(model.record_file, model.id)
        if only_accepted:
            query = query.where(model.record_file.startswith(REVIEW_PREFIX))
        rows = list(session.scalars(query))
        sections[key] = [
            (row.document_id, {**ENTRY_BUILDERS[key](row), "section": row.section, "quote": row.quote}) for row in rows
        ]
    documents = Counter(doc for entries in sections.values() for doc, _ in entries)
    main = documents.most_common(1)[0][0] if documents else None

    def relative(document_id: str) -> str:
        return posixpath.relpath(document_id, relative_to or ".")

    result: dict[str, Any] = {"version": 1, "document": relative(main) if main else ""}
    for key, entries in sections.items():
        if entries:
            result[key] = [
                _clean({**entry, **({"document": relative(doc)} if doc != main else {})}) for doc, entry in entries
            ]
    return result


class _RecordFileDumper(yaml.SafeDumper):
    """Multi-line strings (quotes) as ``|-`` literal blocks, like the hand-kept record files."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_RecordFileDumper.add_representer(str, _str_representer)


def dump_record_file(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_RecordFileDumper, allow_unicode=True, sort_keys=False, width=1000)
