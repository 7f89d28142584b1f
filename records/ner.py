"""Japanese named entities from GiNZA (``ja_ginza`` 5.3.0: a spaCy pipeline whose weights ship on PyPI, so it
loads offline). The pipeline is loaded on first use only — extraction of drafts calls it when the rules
leave a lecturer's name unsplit — and once per process (≈1–2 s).

``ja-ginza`` pins ``sudachipy<0.7``; the project pins SudachiPy 0.7.0, which GiNZA 5.3.0 runs with, so
``make setup`` installs ginza and ja-ginza with ``--no-deps`` (see the Makefile). Without them the
extractor keeps its rules' values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

NER_MODEL = "ja_ginza"
log = logging.getLogger(__name__)


class NerUnavailable(RuntimeError):
    """GiNZA or its model package is not installed."""


@dataclass(frozen=True)
class Entity:
    label: str  # GiNZA's extended named-entity labels: Person, Date, Time, N_Person, Facility …
    start: int
    end: int
    text: str


_enabled = True


@contextmanager
def disabled() -> Iterator[None]:
    """Extraction without the model (rules only), e.g. to measure what the model adds."""
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous


@cache
def _load() -> Any:
    try:
        import spacy

        return spacy.load(NER_MODEL)
    except (ImportError, OSError) as exc:
        raise NerUnavailable(f"{NER_MODEL} is not installed ({exc}); run `make setup`") from None


def _pipeline() -> Any:
    if not _enabled:
        raise NerUnavailable("the NER model is switched off")
    return _load()


def loaded() -> bool:
    """Whether this process has loaded the model (it loads on first use only)."""
    return _load.cache_info().currsize > 0


def available() -> bool:
    try:
        _pipeline()
    except NerUnavailable as exc:
        log.info("%s", exc)
        return False
    return True


def entities(texts: Sequence[str]) -> list[list[Entity]]:
    """The entities of each text, offsets relative to that text."""
    nlp = _pipeline()
    return [
        [Entity(ent.label_, ent.start_char, ent.end_char, ent.text) for ent in doc.ents]
        for doc in nlp.pipe(list(texts), batch_size=32)
    ]


def merge_adjacent(found: Sequence[Entity], label: str, text: str, max_gap: int = 1) -> list[Entity]:
    """Entities of ``label`` joined when only spaces separate them (GiNZA splits 玉置 妙 / 憂)."""
    merged: list[Entity] = []
    for entity in (e for e in found if e.label == label):
        if (
            merged
            and entity.start - merged[-1].end <= max_gap
            and not text[merged[-1].end : entity.start].strip(" \u3000")
        ):
            last = merged[-1]
            merged[-1] = Entity(label, last.start, entity.end, text[last.start : entity.end])
        else:
            merged.append(entity)
    return merged


def person_span(text: str) -> tuple[int, int] | None:
    """The span of the last person's name in ``text`` (the lecturer comes after affiliation and title)."""
    people = merge_adjacent(entities([text])[0], "Person", text)
    return (people[-1].start, people[-1].end) if people else None
