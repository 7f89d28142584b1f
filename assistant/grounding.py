"""Deciding whether the documents hold an answer at all."""

from __future__ import annotations


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
) | frozenset("所属 場所 日時 日程 人数 目的 内容 理由 方法 流れ 手順 時期 期間 回数 件数 名前 氏名 頻度 間隔 様子 状況 特徴 詳細 具体".split()) | frozenset(
    "今日 本日 明日 昨日 今週 来週 先週 今月 来月 先月 今年 去年 今回 前回 次回 最近 現在".split()  # relative to as_of
)


def unknown_terms(kb: KnowledgeBase, question: str) -> tuple[str, ...]:
    """Nouns of the question that no live passage contains (札幌市, 予算 …)."""
    nouns = [
        noun for noun in default_tokenizer().nouns(question)
        if len(noun) >= MIN_NOUN_CHARS and noun not in QUESTION_WORDS and noun not in ATTRIBUTE_NOUNS
        and not noun.startswith("何")  # 何回, 何度, 何件: interrogatives, not topics
    ]
    kb.refresh()
    return tuple(dict.fromkeys(noun for noun in nouns if not _known(kb, noun)))


def _known(kb: KnowledgeBase, noun: str) -> bool:
    """The corpus has the noun, or every part of it (「採 用 月」 in a PDF is indexed as 採用 + 月)."""
    if kb.lexical.has_term(noun):
        return True
    parts = [part for word in default_tokenizer().words(noun) for part in (word.parts or (word.term,))]
    return len(parts) > 1 and all(kb.lexical.has_term(part) for part in parts)


def is_grounded(selection: Selection | None) -> bool:
    """Whether the best passage lines cover enough of the question to answer from them."""
    return selection is not None and selection.coverage >= MIN_COVERAGE
