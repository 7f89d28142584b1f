"""The extractor's vocabulary (``records/extraction_vocab.yaml``), loaded once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from knowledge.text import compact

VOCAB_FILE = "extraction_vocab.yaml"


@dataclass(frozen=True)
class Vocabulary:
    field_labels: dict[str, str]  # compact label → field
    lecturer_titles: tuple[str, ...]
    honorifics: tuple[str, ...]
    event_kind_keywords: tuple[tuple[str, str], ...]
    lecture_words: tuple[str, ...]
    resident_words: tuple[str, ...]
    training_words: tuple[str, ...]
    event_words: tuple[str, ...]
    event_verbs: tuple[str, ...]
    not_event_cues: tuple[str, ...]
    participation_cues: tuple[str, ...]
    not_participant_cues: tuple[str, ...]
    total_words: tuple[str, ...]
    venue_before_cues: tuple[str, ...]
    venue_after_cues: tuple[str, ...]
    place_suffixes: tuple[str, ...]
    lecturer_cues: tuple[tuple[str, str], ...]
    area_suffixes: tuple[str, ...]
    ner_venue_labels: tuple[str, ...]


def _strings(data: dict[str, Any], key: str) -> tuple[str, ...]:
    values = data.get(key)
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"{VOCAB_FILE}: {key} must be a list of words")
    return tuple(values)


def _pairs(data: dict[str, Any], key: str) -> tuple[tuple[str, str], ...]:
    values = data.get(key)
    if not isinstance(values, list) or not all(isinstance(v, list) and len(v) == 2 for v in values):
        raise ValueError(f"{VOCAB_FILE}: {key} must be a list of [word, word] pairs")
    return tuple((str(a), str(b)) for a, b in values)


def parse_vocabulary(data: dict[str, Any]) -> Vocabulary:
    labels = data.get("field_labels")
    if not isinstance(labels, dict):
        raise ValueError(f"{VOCAB_FILE}: field_labels must map fields to label lists")
    field_labels = {compact(label): field for field, names in labels.items() for label in names}
    resident = data.get("resident_lecture") or {}
    return Vocabulary(
        field_labels=field_labels,
        lecturer_titles=_strings(data, "lecturer_titles"),
        honorifics=_strings(data, "honorifics"),
        event_kind_keywords=_pairs(data, "event_kind_keywords"),
        lecture_words=_strings(resident, "lecture_words"),
        resident_words=_strings(resident, "resident_words"),
        training_words=_strings(data, "training_words"),
        event_words=_strings(data, "event_words"),
        event_verbs=_strings(data, "event_verbs"),
        not_event_cues=_strings(data, "not_event_cues"),
        participation_cues=_strings(data, "participation_cues"),
        not_participant_cues=_strings(data, "not_participant_cues"),
        total_words=_strings(data, "total_words"),
        venue_before_cues=_strings(data, "venue_before_cues"),
        venue_after_cues=_strings(data, "venue_after_cues"),
        place_suffixes=_strings(data, "place_suffixes"),
        lecturer_cues=_pairs(data, "lecturer_cues"),
        area_suffixes=_strings(data, "area_suffixes"),
        ner_venue_labels=_strings(data, "ner_venue_labels"),
    )


@cache
def vocabulary() -> Vocabulary:
    text = files("records").joinpath(VOCAB_FILE).read_text(encoding="utf-8")
    return parse_vocabulary(yaml.safe_load(text))
