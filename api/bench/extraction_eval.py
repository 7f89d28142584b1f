"""Precision and recall of the extractor against hand-kept record files, per field.

Facts are compared as sets of (field, record key, normalised value). The record key of an event fact
is the event's date, so a venue counts as correct only when it is proposed for an event of the same
date; survey and block facts are keyed by nothing (their values identify them). Values are
normalised (dates and times parsed, text NFKC with spaces removed), so ``令和５年９月19日（火）``
matches ``2023-09-19``.

* fields: date, time, venue, lecturer (name), affiliation, participants (counts), responses,
  response_rate, option_counts, block_wards, kind, area; ``counts`` pools participants, responses,
  rates and option counts.
* ``unexpected_dates``: proposed event dates no hand record has (an update date proposed as an event).
* ``values_outside_span``: proposed values not found in their proposal's quote (must be 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from knowledge.text import compact
from records.dates import RecordDateError, parse_date, parse_time_range
from records.extraction import Proposal, canonical_group, extract_proposals, keep_values_in_span
from records.parsing import is_record_file, parse_record_file, read_document_text
from records.schema import BlockIn, EventIn, SurveyIn

Fact = tuple[str, Any, Any]
COUNT_FIELDS = ("participants", "responses", "response_rate", "option_counts")
REPORTED_FIELDS = ("date", "time", "venue", "lecturer", "affiliation", *COUNT_FIELDS, "block_wards", "kind", "area")


def _date(value: Any) -> Any:
    try:
        return parse_date(value)
    except (RecordDateError, TypeError):
        return None


def _time(value: Any) -> Any:
    if isinstance(value, tuple):
        return value
    try:
        return parse_time_range(value)
    except (RecordDateError, TypeError):
        return None


def _event_facts(values: dict[str, Any]) -> Iterator[Fact]:
    key = _date(values.get("date"))
    if key is None:
        return
    yield ("date", None, key)
    if values.get("time"):
        yield ("time", key, _time(values["time"]))
    if values.get("venue"):
        yield ("venue", key, compact(values["venue"]))
    for name in ("kind", "area"):
        if values.get(name):
            yield (name, key, compact(values[name]))
    lecturer = values.get("lecturer") or {}
    if lecturer.get("name"):
        yield ("lecturer", key, compact(lecturer["name"]))
    if lecturer.get("affiliation"):
        yield ("affiliation", key, compact(lecturer["affiliation"]))
    for row in values.get("participants") or []:
        yield ("participants", key, (canonical_group(compact(row["group"])), int(row["count"])))


def _survey_facts(values: dict[str, Any]) -> Iterator[Fact]:
    if values.get("responses") is not None:
        yield ("responses", None, int(values["responses"]))
    if values.get("response_rate") is not None:
        yield ("response_rate", None, round(float(str(values["response_rate"]).rstrip("%％")), 1))
    for question in values.get("questions") or []:
        for option in question.get("options") or []:
            label = option["label"] if isinstance(option, dict) else option
            count = option.get("count") if isinstance(option, dict) else None
            if count is not None:
                yield ("option_counts", compact(question["text"]), (compact(label), int(count)))


def _block_facts(values: dict[str, Any]) -> Iterator[Fact]:
    if values.get("name") and values.get("wards"):
        yield ("block_wards", None, (compact(values["name"]), tuple(values["wards"])))


def proposal_facts(proposal: Proposal) -> set[Fact]:
    values = {**proposal.context, **proposal.values}
    facts = {"event": _event_facts, "survey": _survey_facts, "block": _block_facts}[proposal.kind](values)
    return set(facts)


def hand_facts(hand_records: Iterable[BlockIn | EventIn | SurveyIn]) -> set[Fact]:
    facts: set[Fact] = set()
    for record in hand_records:
        values = record.model_dump(mode="python")
        if isinstance(record, EventIn):
            values["date"] = record.date.isoformat() if record.date else None
            values["time"] = record.time
            facts.update(_event_facts(values))
        elif isinstance(record, SurveyIn):
            facts.update(_survey_facts(values))
        elif isinstance(record, BlockIn):
            facts.update(_block_facts(values))
    return facts


def values_outside_span(proposals: Iterable[Proposal]) -> int:
    """How many proposals carry a value that is not in their own quote."""
    return sum(1 for p in proposals if keep_values_in_span(p.values, p.quote) != p.values)


def evaluate_extraction(
    proposals: list[Proposal], hand_records: Iterable[BlockIn | EventIn | SurveyIn]
) -> dict[str, Any]:
    """Per-field precision/recall of ``proposals`` against the hand-kept records of the same document."""
    predicted = set().union(*(proposal_facts(p) for p in proposals)) if proposals else set()
    gold = hand_facts(hand_records)
    fields: dict[str, dict[str, Any]] = {}
    for name in (*REPORTED_FIELDS, "counts"):
        members = COUNT_FIELDS if name == "counts" else (name,)
        pred = {fact for fact in predicted if fact[0] in members}
        true = {fact for fact in gold if fact[0] in members}
        hits = len(pred & true)
        fields[name] = {
            "proposed": len(pred),
            "expected": len(true),
            "correct": hits,
            "precision": round(hits / len(pred), 3) if pred else None,
            "recall": round(hits / len(true), 3) if true else None,
        }
    gold_dates = {fact[2] for fact in gold if fact[0] == "date"}
    return {
        "proposals": len(proposals),
        # event dates proposed that no hand record holds (page updates, deadlines, law history …)
        "unexpected_dates": sorted(
            str(fact[2]) for fact in predicted if fact[0] == "date" and fact[2] not in gold_dates
        ),
        "by_kind": {kind: sum(1 for p in proposals if p.kind == kind) for kind in ("event", "survey", "block")},
        "values_outside_span": values_outside_span(proposals),
        "fields": fields,
    }


SPLIT_FILE = "split.yaml"


def load_split(corpus_dir: Path) -> dict[str, list[str]]:
    """``split.yaml`` of a labelled set: {split name: [document ids relative to ``corpus_dir``]} (or {})."""
    path = corpus_dir / SPLIT_FILE
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ValueError(f"{path}: expected a mapping of split names to lists of documents")
    return {str(name): [str(doc) for doc in docs] for name, docs in data.items()}


HandRecord = BlockIn | EventIn | SurveyIn


def labelled_documents(corpus_dir: Path) -> Iterator[tuple[str, str, list[HandRecord]]]:
    """(document id, text, hand records) of every document of ``corpus_dir`` with a YAML record file beside it."""
    for record_file in sorted(corpus_dir.rglob("*.records.y*ml")):
        if not is_record_file(record_file):
            continue
        parsed = parse_record_file(record_file, corpus_dir)
        if parsed.fatal or parsed.document_id is None:
            continue
        text = read_document_text(corpus_dir / parsed.document_id)
        if text is None:
            continue
        hand = [
            r.data for r in parsed.records if isinstance(r.data, HandRecord) and r.document_id == parsed.document_id
        ]
        yield parsed.document_id, text, hand


def run_extraction_eval(corpus_dir: Path) -> dict[str, Any]:
    """Evaluate the extractor on every document of ``corpus_dir`` that has a YAML record file beside it.

    With a ``split.yaml`` (a labelled set split by document), the result also holds one ``splits`` entry
    per split, scored on that split's documents only."""
    documents: list[dict[str, Any]] = []
    per_document: dict[str, tuple[list[Proposal], list[HandRecord]]] = {}
    for document_id, text, hand in labelled_documents(corpus_dir):
        proposals = extract_proposals(document_id, text)
        documents.append({"document_id": document_id, **evaluate_extraction(proposals, hand)})
        per_document[document_id] = (proposals, hand)
    every = list(per_document.values())
    result: dict[str, Any] = {
        "documents": documents,
        "overall": evaluate_extraction([p for ps, _ in every for p in ps], [h for _, hs in every for h in hs]),
    }
    splits = load_split(corpus_dir)
    if splits:
        result["splits"] = {
            name: evaluate_extraction(
                [p for doc in docs for p in per_document.get(doc, ([], []))[0]],
                [h for doc in docs for h in per_document.get(doc, ([], []))[1]],
            )
            for name, docs in splits.items()
        }
    return result
