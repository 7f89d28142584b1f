"""Store extracted proposals as drafts (``record_drafts``); never touches the live records.

``propose_for_document(engine, document_id, text)`` is the ingest hook: it extracts proposals and
stores the new ones. A proposal is identified by the fingerprint of (document_id, kind, quote):

* a span already proposed — pending, accepted or rejected — is not proposed again, so re-ingesting
  an unchanged document adds nothing and a rejected proposal stays rejected;
* pending drafts of the document whose span is no longer proposed (the document changed) are removed;
* proposals that repeat a live record of the same document (same event date and start time, same
  block name, same survey response count) are skipped — the hand-kept record file already has them.

Given LLM settings naming a server, the verified LLM event proposals (``records.extraction_llm``) are
added to the rule-based ones, less those repeating a rule-based event (same date and start time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from knowledge.config import LlmSettings
from records.dates import RecordDateError, parse_date, parse_time_range
from records.extraction import Proposal, extract_proposals
from records.extraction_llm import llm_proposals
from records.models import Block, Event, RecordDraft, Survey


def fingerprint(document_id: str, kind: str, quote: str) -> str:
    return hashlib.sha256("\x1f".join((document_id, kind, quote)).encode("utf-8")).hexdigest()


def proposal_fingerprint(proposal: Proposal) -> str:
    return fingerprint(proposal.document_id, proposal.kind, proposal.quote)


def _start_time(proposal: Proposal) -> time | None:
    try:
        return parse_time_range(proposal.values["time"])[0] if "time" in proposal.values else None
    except RecordDateError:
        return None


def already_recorded(session: Session, proposal: Proposal) -> bool:
    """Whether a live record of the same document already holds this proposal's key facts."""
    values = proposal.values
    if proposal.kind == "block":
        name = values.get("name") or proposal.context.get("name")
        return name is not None and session.scalar(select(Block.id).where(Block.name == name)) is not None
    if proposal.kind == "survey":
        if "responses" not in values:
            return False
        query = select(Survey.id).where(
            Survey.document_id == proposal.document_id, Survey.responses == values["responses"]
        )
        return session.scalar(query) is not None
    written = proposal.event_date
    if written is None:
        return False
    try:
        when = parse_date(written)
    except (TypeError, RecordDateError):
        return False
    query = select(Event.id).where(
        Event.document_id == proposal.document_id, Event.date == when, Event.start_time == _start_time(proposal)
    )
    if "part" in values:
        query = query.where(Event.part == values["part"])
    return session.scalar(query) is not None


def store_proposals(session: Session, document_id: str, proposals: Sequence[Proposal]) -> list[RecordDraft]:
    """Add drafts for the proposals not seen before; drop stale pending drafts of the document."""
    prints = {proposal_fingerprint(p): p for p in proposals}
    stale = delete(RecordDraft).where(
        RecordDraft.document_id == document_id,
        RecordDraft.status == "pending",
        RecordDraft.fingerprint.not_in(list(prints)),
    )
    session.execute(stale)
    known = set(session.scalars(select(RecordDraft.fingerprint).where(RecordDraft.fingerprint.in_(list(prints)))))
    added: list[RecordDraft] = []
    now = datetime.now(UTC)
    for key, proposal in prints.items():
        if key in known or already_recorded(session, proposal):
            continue
        draft = RecordDraft(
            fingerprint=key,
            document_id=proposal.document_id,
            kind=proposal.kind,
            status="pending",
            confidence=proposal.confidence,
            section=proposal.section,
            span_start=proposal.start,
            span_end=proposal.end,
            quote=proposal.quote,
            values=proposal.values,
            context={**proposal.context, "_spans": {k: list(v) for k, v in proposal.context_spans.items()}},
            pattern=proposal.pattern,
            created_at=now,
        )
        session.add(draft)
        added.append(draft)
    session.flush()
    return added


def _event_key(proposal: Proposal) -> tuple[date, time | None] | None:
    written = proposal.event_date
    if written is None:
        return None
    try:
        return parse_date(written), _start_time(proposal)
    except (TypeError, RecordDateError):
        return None


def merge_proposals(rule_based: Sequence[Proposal], from_llm: Sequence[Proposal]) -> list[Proposal]:
    """The rule-based proposals, then the LLM events that add a fact: a new date, or a new start time on
    a date whose known events all have times (an untimed event on a known date repeats it, and so does
    any event on a date with a known untimed event)."""
    known = {key for p in rule_based if p.kind == "event" and (key := _event_key(p))}
    known_days = {day for day, _ in known}
    fingerprints = {proposal_fingerprint(p) for p in rule_based}
    merged = list(rule_based)
    for proposal in from_llm:
        key = _event_key(proposal)
        if key is None or proposal_fingerprint(proposal) in fingerprints:
            continue
        day, start = key
        if key in known or (day, None) in known or (start is None and day in known_days):
            continue
        known.add(key)
        known_days.add(day)
        merged.append(proposal)
    return merged


def propose_for_document(engine: Engine, document_id: str, text: str, llm: LlmSettings | None = None) -> int:
    """Extract proposals from a new or changed document and store the new ones; returns how many.
    With ``llm`` naming a server, verified LLM event proposals are added too."""
    proposals = extract_proposals(document_id, text)
    if llm is not None:
        proposals = merge_proposals(proposals, llm_proposals(document_id, text, llm))
    with Session(engine) as session:
        added = store_proposals(session, document_id, proposals)
        session.commit()
        return len(added)
