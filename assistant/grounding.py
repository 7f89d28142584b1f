"""Deciding whether the documents hold an answer at all — from evidence, never from a missing common noun.

Three checks, in order:
1. a proper noun of the question (a place, organisation or person: Sudachi's 固有名詞) that appears nowhere in
   the corpus — the documents cannot be about it (札幌市, 青葉台総合病院);
2. the answer type the question expects (a date, a count, an amount, a percentage …) has no instance in the
   lines that would answer — for the types where the fit found this check helps on the tune sets;
3. the support model: a logistic regression over the selection (how likely its best line answers, how close it
   is in meaning and in words, whether the asked-about word and the question's places are there), with a
   threshold fitted on the tune sets (``renkei fit``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.answer_model import AnswerModel
from assistant.extractive import Candidate, Evidence, Selection, supporting_type_found, terms_of
from assistant.vocabulary import AnswerType
from knowledge.base import KnowledgeBase
from knowledge.tokenizer import default_tokenizer

SUPPORT_FEATURES: tuple[str, ...] = (
    "best_probability",  # the line model's probability for the best line
    "second_probability",  # … for the runner-up (answers often stand in several lines)
    "best_dense",  # how far the closest line stands out in meaning (its z-score among the candidates)
    "best_lexical",  # the best lexical coverage of any candidate line
    "best_coverage",  # share of the question's words held by the best line or its context
    "key_coverage",  # share of the question's key words (by rarity) the answer lines and their context hold
    "rarest_missing",  # rarity of the rarest key word the answer lines and their context lack
    "keys_nowhere",  # share of the key words (by rarity) that no retrieved line holds
    "focus_found",  # the asked-about word stands in an answer line
    "focus_anywhere",  # the asked-about word stands in any retrieved line
    "type_found",  # the expected answer type has an instance in the answer lines (1 when none is expected)
    # the key words (by rarity) held by the answer line that has an instance of the expected type and holds the
    # most of them, its context included (1 when no type is expected): 「申込みはいつまで」 wants a date in a
    # line about the application, not the date of the event
    "type_with_keys",
    # the same, the line's own words only: a name two lines under the event asked about may be someone else's
    "type_with_keys_line",
    "type_expected",  # the question asks for a type of answer (date, count, place …)
    "subject",  # share of the question's proper nouns named by the best line's document
    # a yes-or-no question (no interrogative: 「駐車場は使えますか」) is about one thing; if the answer lines lack
    # its rarest word, they answer something else
    "yes_no_missing",
)


def unknown_proper_nouns(kb: KnowledgeBase, nouns: Sequence[str]) -> tuple[str, ...]:
    """The proper nouns that no live passage contains (札幌市, 青葉台総合病院 …)."""
    kb.refresh()
    return tuple(dict.fromkeys(noun for noun in nouns if not _in_corpus(kb, noun)))


def _in_corpus(kb: KnowledgeBase, noun: str) -> bool:
    """The corpus has the word, or every part of it (「採 用 月」 in a PDF is indexed as 採用 + 月)."""
    words = default_tokenizer().words(noun)
    if not words:
        return True
    return all(
        kb.lexical.has_term(word.term) or (bool(word.parts) and all(kb.lexical.has_term(p) for p in word.parts))
        for word in words
    )


def support_features(selection: Selection, evidence: Evidence, answer_type: AnswerType | None) -> np.ndarray:
    ranked = selection.candidates
    answer_units = {(unit.chunk.document_id, unit.start) for unit in selection.units}
    in_answer = [c for c in ranked if (c.unit.chunk.document_id, c.unit.start) in answer_units]
    answer_terms = frozenset().union(*(c.evidence_terms for c in in_answer))
    return np.asarray([
        selection.best.probability,
        ranked[1].probability if len(ranked) > 1 else 0.0,
        max(c.feature("dense") for c in ranked),
        max(c.feature("lexical") for c in ranked),
        selection.best.feature("lexical") + selection.best.feature("context"),
        evidence.key_share(answer_terms),
        evidence.rarest_missing(answer_terms),
        1.0 - evidence.key_share(frozenset().union(*(c.evidence_terms for c in ranked))),
        float(any(c.feature("focus") for c in in_answer)),
        float(any(c.feature("focus") for c in ranked)),
        float(supporting_type_found(selection, answer_type)),
        _type_with_keys(in_answer, evidence, answer_type),
        _type_with_keys(in_answer, evidence, answer_type, line_only=True),
        float(answer_type is not None),
        selection.best.feature("subject"),
        float(evidence.yes_no) * evidence.rarest_missing(answer_terms),
    ], dtype=float)  # fmt: skip


def _type_with_keys(
    lines: Sequence[Candidate], evidence: Evidence, answer_type: AnswerType | None, line_only: bool = False
) -> float:
    if answer_type is None:
        return 1.0
    typed = [c for c in lines if answer_type.found_in(c.unit.text)]
    return max(
        (evidence.key_share(terms_of(c.unit.text) if line_only else c.evidence_terms) for c in typed), default=0.0
    )


def is_supported(
    selection: Selection | None, evidence: Evidence, answer_type: AnswerType | None, model: AnswerModel
) -> bool:
    """Whether the selected lines answer the question (see the module's checks 2 and 3)."""
    if selection is None:
        return False
    if (
        answer_type is not None
        and answer_type.name in model.strict_answer_types
        and not supporting_type_found(selection, answer_type)
    ):
        return False
    features = support_features(selection, evidence, answer_type)
    return bool(model.support.probabilities(features[None, :])[0] >= model.support_threshold)
