"""The assistant's vocabulary, loaded once from ``assistant/data/vocabulary.yaml`` (data, not code)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
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
    # about (or its head: 最寄り駅 → 駅): 「センターの場所は？」 asks for a place, 「窓口に相談したら返事はどれく
    # らいで」 does not, and 交通費 is not 交通
    focus_nouns: tuple[str, ...] = ()
    # labels of a 「label：value」 line whose value is this type of fact (会場：…, 参加者：84名, 講師：…)
    labels: tuple[str, ...] = ()
    # cues that need a pattern (講師のお名前, 最大で何人, 何番 but not 何番目), over the compacted question
    cue_pattern: re.Pattern[str] | None = None
    # a person is also found as a surname with a given name or with one of these titles (藤田先生, 大野委員)
    name_titles: tuple[str, ...] = ()
    # the unit the question counts in narrows what answers (何回 is not answered by 14名): pairs of a pattern
    # over the compacted question and the instance pattern it asks for instead of ``pattern``
    counters: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = ()

    def for_question(self, question: str) -> AnswerType:
        """This type as the question asks for it: narrowed to the unit it counts in, if it names one."""
        text = compact(question)
        narrowed = next((pattern for asked, pattern in self.counters if asked.search(text)), None)
        return self if narrowed is None else replace(self, pattern=narrowed)

    def cued_by(self, question: str) -> bool:
        """The question holds a word that asks for this type (いつ, 何人, メールアドレス) wherever it stands."""
        text = compact(question).casefold()
        return any(cue in text for cue in self.cues) or bool(self.cue_pattern and self.cue_pattern.search(text))

    def named_by(self, focus: str | None) -> bool:
        """The word the question asks about names this type of fact (場所, 参加費), or ends in one (最寄り駅)."""
        return bool(focus and self.focus_nouns and compact(focus).endswith(self.focus_nouns))

    def found_in(self, text: str) -> bool:
        if self.pattern.search(compact(text)):
            return True
        return bool(self.name_titles) and _names_a_person(text, self.name_titles)


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
    interrogative_pattern: re.Pattern[str]
    determiners: frozenset[str]
    list_cues: re.Pattern[str]
    attribute_nouns: frozenset[str]
    answer_types: tuple[AnswerType, ...]
    facility_heads: frozenset[str] = frozenset()
    fact_predicates: frozenset[str] = frozenset()

    def answer_type(self, question: str, focus: str | None = None) -> AnswerType | None:
        """The answer type a question expects, if its words say: the first listed type one of whose cues the
        question holds, else the first whose noun is the word asked about.
        ``focus``: the question's :meth:`focus`, if the caller has read it already."""
        # a word that asks (いつ) says more than the noun it asks about (補助金はいつもらえる asks for a date)
        cued = next((kind for kind in self.answer_types if kind.cued_by(question)), None)
        if cued is not None:
            return cued.for_question(question)
        focus = focus if focus is not None else self.focus(question)  # tokenises the question: only when needed
        return next((kind for kind in self.answer_types if kind.named_by(focus)), None)

    def asks_yes_or_no(self, question: str, focus: str | None = None) -> bool:
        """A question ending in か with no interrogative, no list cue and no kind of fact asked for:
        「駐車場は使えますか」, not 「どこにありますか」 or 「場所は？」."""
        text = compact(question).rstrip("？?。!！")
        if not text.endswith("か") or self.has_interrogative(text):
            return False
        return not self.wants_list(question) and self.answer_type(question, focus) is None

    def has_interrogative(self, question: str) -> bool:
        """Whether an interrogative stands in the question (何人 and いつもらえる count, いつも and どうぞ do not)."""
        return bool(self.interrogative_pattern.search(compact(question)))

    def focus(self, question: str) -> str | None:
        """The word a question asks about: the word right after an interrogative (どんな取組み, どう活かす), else
        the last content word before it (多職種研修会の目的は何 → 目的), else — a question with no interrogative —
        its last content word (…の回収率は → 回収率), or the noun before a predicate that asks whether it is there
        or what it costs (参加費はかかりますか, 駐車場はありますか: ``fact_predicates``); after any other verb the
        verb is the focus (担当者に直接会えますか asks whether, not who)."""
        tokenizer = default_tokenizer()
        words = [word.term for word in tokenizer.words(question)]
        for index, term in enumerate(words):
            if self.interrogative_pattern.fullmatch(term):
                after = words[index + 1] if index + 1 < len(words) else None
                if term in self.determiners and after and after not in self.question_words:
                    return after
                return _head([w for w in words[:index] if w not in self.question_words])
        content = [w for w in words if w not in self.question_words]
        if content and content[-1] in self.fact_predicates:
            nouns = [word.term for word in tokenizer.noun_words(question)]
            asked = [w for w in nouns if w not in self.question_words and w not in self.fact_predicates]
            if asked:
                return _head(asked)
        return _head(content)

    def wants_list(self, question: str) -> bool:
        return bool(self.list_cues.search(compact(question)))


@lru_cache(maxsize=50_000)
def _names_a_person(text: str, titles: tuple[str, ...]) -> bool:
    return bool(default_tokenizer().person_names(text, titles))


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
        interrogative_pattern=re.compile("|".join(data["interrogative_patterns"])),
        determiners=frozenset(_words(data["determiners"])),
        list_cues=re.compile("|".join(data["list_cues"])),
        attribute_nouns=frozenset(_words(data["attribute_nouns"])),
        facility_heads=frozenset(_words(data.get("facility_heads"))),
        fact_predicates=frozenset(_words(data.get("fact_predicates"))),
        answer_types=tuple(
            AnswerType(
                name=item["name"],
                cues=tuple(cue.casefold() for cue in _words(item["cues"])),
                pattern=re.compile(item["pattern"]),
                strict=bool(item.get("strict")),
                focus_nouns=_words(item.get("focus_nouns")),
                labels=_words(item.get("focus_nouns")) + _words(item.get("labels")),
                cue_pattern=re.compile(item["cue_pattern"]) if item.get("cue_pattern") else None,
                name_titles=_words(item.get("name_titles")),
                counters=tuple(
                    (re.compile(counter["asked"]), re.compile(counter["pattern"]))
                    for counter in item.get("counters", ())
                ),
            )
            for item in data["answer_types"]
        ),
    )


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The process-wide vocabulary (read once)."""
    return load_vocabulary()
