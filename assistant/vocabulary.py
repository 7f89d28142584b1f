"""The assistant's vocabulary, loaded once from ``assistant/data/vocabulary.yaml`` (data, not code)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from knowledge.text import compact

VOCABULARY_FILE = Path(__file__).parent / "data" / "vocabulary.yaml"


@dataclass(frozen=True)
class AnswerType:
    """What kind of fact a question wants (date, count, place …), the words that ask for it, and the
    pattern a line that supplies it holds."""

    name: str
    cues: tuple[str, ...]
    pattern: re.Pattern[str]
    strict: bool  # no instance in the supporting lines → the documents do not answer

    def asked_by(self, question: str) -> bool:
        text = compact(question)
        return any(cue in text for cue in self.cues)

    def found_in(self, text: str) -> bool:
        return bool(self.pattern.search(compact(text)))


@dataclass(frozen=True)
class Vocabulary:
    attributes: dict[str, tuple[str, ...]]
    event_facts: frozenset[str]
    since_words: tuple[str, ...]
    next_words: tuple[str, ...]
    topic_cues: tuple[str, ...]
    my_ward_words: tuple[str, ...]
    peer_words: tuple[str, ...]
    greetings: tuple[str, ...]
    follow_up_starts: tuple[str, ...]
    follow_up_max_chars: int
    question_words: frozenset[str]
    interrogatives: frozenset[str]
    determiners: frozenset[str]
    list_cues: tuple[str, ...]
    attribute_nouns: frozenset[str]
    answer_types: tuple[AnswerType, ...]

    def answer_type(self, question: str) -> AnswerType | None:
        """The answer type a question expects, if its words say (the first listed type that matches)."""
        return next((kind for kind in self.answer_types if kind.asked_by(question)), None)

    def wants_list(self, question: str) -> bool:
        text = compact(question)
        return any(cue in text for cue in self.list_cues)


def _words(value: Any) -> tuple[str, ...]:
    """A YAML list of words, or one string of space-separated words."""
    items = value.split() if isinstance(value, str) else list(value or ())
    return tuple(compact(str(item)) for item in items if str(item).strip())


def load_vocabulary(path: Path = VOCABULARY_FILE) -> Vocabulary:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Vocabulary(
        attributes={name: _words(words) for name, words in data["attributes"].items()},
        event_facts=frozenset(data["event_facts"]),
        since_words=_words(data["since_words"]),
        next_words=_words(data["next_words"]),
        topic_cues=_words(data["topic_cues"]),
        my_ward_words=_words(data["my_ward_words"]),
        peer_words=_words(data["peer_words"]),
        greetings=_words(data["greetings"]),
        follow_up_starts=_words(data["follow_up_starts"]),
        follow_up_max_chars=int(data["follow_up_max_chars"]),
        question_words=frozenset(_words(data["question_words"])),
        interrogatives=frozenset(_words(data["interrogatives"])),
        determiners=frozenset(_words(data["determiners"])),
        list_cues=_words(data["list_cues"]),
        attribute_nouns=frozenset(_words(data["attribute_nouns"])),
        answer_types=tuple(
            AnswerType(item["name"], _words(item["cues"]), re.compile(item["pattern"]), bool(item.get("strict")))
            for item in data["answer_types"]
        ),
    )


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The process-wide vocabulary (read once)."""
    return load_vocabulary()
