"""Deciding whether the documents hold an answer at all."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.extractive import QUESTION_WORDS, Selection
from assistant.understanding import ATTRIBUTE_WORDS
from knowledge.base import KnowledgeBase
from knowledge.tokenizer import default_tokenizer

# Calibrated on the development set: answers whose best line covers less than this share of the question's
# weighted terms were wrong far more often than right.
MIN_COVERAGE = 0.34
# One-character nouns (次, 別, 後, 方) are too generic to say what a question is about.
MIN_NOUN_CHARS = 2
# Nouns that name the kind of fact asked for rather than the topic: an answer supplies them by its content.
ATTRIBUTE_NOUNS = frozenset(
    word for words in ATTRIBUTE_WORDS.values() for word in words
) | frozenset("所属 場所 日時 日程 人数 目的 内容 理由 方法 流れ 手順 時期 期間 回数 件数 名前 氏名 頻度 間隔 様子 状況 特徴 詳細 具体".split())


@dataclass(frozen=True)
class Verdict:
    grounded: bool
    missing_terms: tuple[str, ...] = ()


def unknown_terms(kb: KnowledgeBase, question: str) -> tuple[str, ...]:
    """Nouns of the question that no live passage contains (札幌市, 予算 …)."""
    nouns = [
        noun for noun in default_tokenizer().nouns(question)
        if len(noun) >= MIN_NOUN_CHARS and noun not in QUESTION_WORDS and noun not in ATTRIBUTE_NOUNS
    ]
    kb.refresh()
    return tuple(dict.fromkeys(noun for noun in nouns if not kb.lexical.has_term(noun)))


def judge(kb: KnowledgeBase, question: str, selection: Selection | None) -> Verdict:
    missing = unknown_terms(kb, question)
    if selection is None or missing:
        return Verdict(False, missing)
    return Verdict(selection.coverage >= MIN_COVERAGE, missing)
