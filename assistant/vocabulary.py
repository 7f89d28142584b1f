"""The assistant's vocabulary, loaded once from ``assistant/data/vocabulary.yaml`` (data, not code)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from knowledge.text import compact
from knowledge.tokenizer import default_tokenizer

VOCABULARY_FILE = Path(__file__).parent / "data" / "vocabulary.yaml"


@dataclass(frozen=True)
class AnswerType:
    """What kind of fact a question wants (date, count, place …), the words that ask for it, and the
    pattern a line that supplies it holds."""

    name: str
    cues: tuple[str, ...]  # words that ask for this type wherever they stand (どこ, 何人, いつ)
    pattern: re.Pattern[str]
    strict: bool  # no instance in the supporting lines → the documents do not answer
    # nouns that name this type of fact (場所, 講師, 費用); they ask for it only as the word the question asks
    # about: 「センターの場所は？」 asks for a place, 「窓口に相談したら返事はどれくらいで」 does not
    focus_nouns: tuple[str, ...] = ()
    # labels of a 「label：value」 line whose value is this type of fact (会場：…, 参加者：84名, 講師：…)
    labels: tuple[str, ...] = ()

    def asked_by(self, question: str, focus: str | None = None) -> bool:
        text = compact(question)
        if any(cue in text for cue in self.cues):
            return True
        return focus is not None and any(noun in compact(focus) for noun in self.focus_nouns)

    # or: a line naming a person (Sudachi's 人名) has an instance — 「講師は誰」 is answered by a name
    person_names: bool = False

    def found_in(self, text: str) -> bool:
        return bool(self.pattern.search(compact(text))) or (self.person_names and _names_a_person(text))


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
    facility_heads: frozenset[str] = frozenset()

    def answer_type(self, question: str, focus: str | None = None) -> AnswerType | None:
        """The answer type a question expects, if its words say (the first listed type that matches).
        ``focus``: the question's :meth:`focus`, if the caller has read it already."""
        focus = focus if focus is not None else self.focus(question)
        return next((kind for kind in self.answer_types if kind.asked_by(question, focus)), None)

    def asks_yes_or_no(self, question: str, focus: str | None = None) -> bool:
        """A question ending in か with no interrogative, no list cue and no kind of fact asked for:
        「駐車場は使えますか」, not 「どこにありますか」 or 「場所は？」."""
        text = compact(question).rstrip("？?。!！")
        if not text.endswith("か") or any(word in text for word in self.interrogatives):
            return False
        return not self.wants_list(question) and self.answer_type(question, focus) is None

    def focus(self, question: str) -> str | None:
        """The word a question asks about: the word right after an interrogative (どんな取組み, どう活かす), else
        the last content word before it (多職種研修会の目的は何 → 目的), else — a question with no interrogative —
        its last noun (参加費はかかりますか → 参加費, …の回収率は), the predicate being what is asked of it."""
        tokenizer = default_tokenizer()
        words = [word.term for word in tokenizer.words(question)]
        for index, term in enumerate(words):
            if term in self.interrogatives:
                after = words[index + 1] if index + 1 < len(words) else None
                if term in self.determiners and after and after not in self.question_words:
                    return after
                return _head([w for w in words[:index] if w not in self.question_words])
        nouns = [word.term for word in tokenizer.noun_words(question)]
        return _head([w for w in nouns or words if w not in self.question_words])

    def wants_list(self, question: str) -> bool:
        text = compact(question)
        return any(cue in text for cue in self.list_cues)


@lru_cache(maxsize=20_000)
def _names_a_person(text: str) -> bool:
    return bool(default_tokenizer().person_names(text))


def _head(words: list[str]) -> str | None:
    """The last word, or the one before it when the last is a one-character suffix (回収|率, 参加|者)."""
    if not words:
        return None
    if len(words[-1]) == 1 and len(words) > 1:
        return words[-2]
    return words[-1]


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
        facility_heads=frozenset(_words(data.get("facility_heads"))),
        answer_types=tuple(
            AnswerType(
                item["name"],
                _words(item["cues"]),
                re.compile(item["pattern"]),
                bool(item.get("strict")),
                _words(item.get("focus_nouns")),
                _words(item.get("focus_nouns")) + _words(item.get("labels")),
                bool(item.get("person_names")),
            )
            for item in data["answer_types"]
        ),
    )


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The process-wide vocabulary (read once)."""
    return load_vocabulary()
