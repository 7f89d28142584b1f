"""The NER model (GiNZA, ``records.ner``) against the rules, field by field, on a labelled extraction set.

Three readings of the same event units (the proposals the extractor makes) are scored with
:mod:`api.bench.extraction_eval`:

* ``rules``: the extractor with the model switched off;
* ``model``: every field re-read from the model's entities inside the proposal's quote — Date (plus the era
  the model leaves out), Time (adjacent entities joined), the first place-like entity (``ner_venue_labels``)
  as the venue, the last Person (adjacent pieces joined) as the lecturer, N_Person as head counts;
* ``shipped``: what ``extract_proposals`` does (rules, and the model only where a lecturer's name is not
  name-shaped).

``renkei eval DIR --extraction --ner`` prints the three side by side for each split.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from pathlib import Path
from typing import Any

from api.bench.extraction_eval import evaluate_extraction, labelled_documents, load_split
from records import ner
from records.dates import RecordDateError, parse_date, parse_time_range
from records.extraction import Proposal, extract_proposals, group_name
from records.vocab import vocabulary

COMPARED_FIELDS = ("date", "time", "venue", "lecturer", "participants")
ERA_RE = re.compile(r"(?:令和|平成)\s*$")


def _model_date(quote: str, found: list[ner.Entity]) -> str | None:
    for entity in (e for e in found if e.label == "Date"):
        era = ERA_RE.search(quote[: entity.start])
        start = era.start() if era else entity.start
        weekday = re.match(r"\s*[（(][月火水木金土日](?:曜日?)?[）)]", quote[entity.end :])
        for text in (quote[start : entity.end + (weekday.end() if weekday else 0)], quote[start : entity.end]):
            try:
                parse_date(text)
            except RecordDateError:
                continue
            return text
    return None


def _model_time(quote: str, found: list[ner.Entity]) -> str | None:
    times = ner.merge_adjacent(found, "Time", quote, max_gap=1)
    for entity in times:
        try:
            parse_time_range(entity.text)
        except RecordDateError:
            continue
        return entity.text
    return None


def model_values(quote: str, found: list[ner.Entity]) -> dict[str, Any]:
    """The compared fields as read from the model's entities in ``quote``."""
    values: dict[str, Any] = {}
    if date := _model_date(quote, found):
        values["date"] = date
    if time := _model_time(quote, found):
        values["time"] = time
    venue_labels = set(vocabulary().ner_venue_labels)
    if venue := next((e.text for e in found if e.label in venue_labels), None):
        values["venue"] = venue
    if people := ner.merge_adjacent(found, "Person", quote):
        values["lecturer"] = {"name": people[-1].text}
    rows = []
    for entity in (e for e in found if e.label == "N_Person"):
        digits = re.search(r"[0-9０-９]+", entity.text)
        if digits:
            before = re.split(r"[、，,。\s（(）)：:]", quote[: entity.start])[-1] + entity.text[: digits.start()]
            rows.append({"group": group_name(before), "count": int(unicodedata.normalize("NFKC", digits[0]))})
    if rows:
        values["participants"] = rows
    return values


def model_reading(proposals: list[Proposal]) -> list[Proposal]:
    """The event proposals with the compared fields replaced by the model's reading of their quotes."""
    events = [p for p in proposals if p.kind == "event"]
    found = ner.entities([p.quote for p in events])
    read: list[Proposal] = []
    for proposal, entities in zip(events, found, strict=True):
        values = {k: v for k, v in proposal.values.items() if k not in COMPARED_FIELDS}
        values.update(model_values(proposal.quote, entities))
        context = {k: v for k, v in proposal.context.items() if k != "date"}  # the model's own date, or none
        read.append(replace(proposal, values=values, context=context))
    return read


def compare(corpus_dir: Path) -> dict[str, Any]:
    """{split: {field: {reading: {precision, recall}}}} for the rules, the model and what ships."""
    per_document: dict[str, dict[str, Any]] = {}
    for document_id, text, hand in labelled_documents(corpus_dir):
        shipped = extract_proposals(document_id, text)
        with ner.disabled():
            rules = extract_proposals(document_id, text)
        per_document[document_id] = {"hand": hand, "rules": rules, "model": model_reading(rules), "shipped": shipped}
    splits = load_split(corpus_dir) or {"all": sorted(per_document)}
    result: dict[str, Any] = {}
    for name, documents in splits.items():
        rows = [per_document[doc] for doc in documents if doc in per_document]
        hand = [record for row in rows for record in row["hand"]]
        scores = {
            reading: evaluate_extraction([p for row in rows for p in row[reading]], hand)["fields"]
            for reading in ("rules", "model", "shipped")
        }
        result[name] = {
            field: {reading: {k: scores[reading][field][k] for k in ("precision", "recall")} for reading in scores}
            for field in COMPARED_FIELDS
        }
    return result
