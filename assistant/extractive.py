"""Extractive passage answers: pick the lines that answer, in the document's own words, with citations."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.evidence import Unit, compact, units_of
from knowledge.retriever import ScoredChunk
from knowledge.tokenizer import default_tokenizer, tokenize

# Words that frame a question rather than say what it is about.
QUESTION_WORDS = frozenset(
    "何 なに なん いつ どこ 誰 だれ どう どの どんな どのよう どれ どれ位 いくら 幾ら いくつ 幾つ 教える 教え 下さる "
    "ある 有る 居る いる する 為る 成る なる 出来る できる 思う 言う 云う 事 こと 物 もの 方 ため 為 今 私 僕 貴方 あなた "
    "ます です 様 よう ね か 位 くらい ぐらい 頃 について 関する 関して 知る 分かる 分る 了解 件 場合 的 等 など".split()
)
LIST_CUES = ("どんな", "どのような", "どのように", "どう", "何を", "何が", "意見", "感想", "要望", "声", "取組", "取り組", "内容", "一覧")

MAX_PRIMARY_UNITS = 4
MAX_FOLLOWERS = 6
MAX_ANSWER_CHARS = 420
RANK_PRIOR = 0.08
CONTEXT_WEIGHT = 0.5
FOCUS_BOOST = 2.0
MIN_NOVELTY = 0.34
ECHO_PENALTY = 0.6
INTERROGATIVES = frozenset("何 なに なん いつ どこ 誰 だれ どう どの どんな どのよう どれ いくら 幾ら いくつ 幾つ".split())
CONTEXT_LINES = 2


@dataclass
class Selection:
    units: list[Unit]
    best_score: float
    coverage: float  # share of the question's weighted terms found in the selected units


def question_terms(question: str) -> list[str]:
    return [term for term in tokenize(question) if term not in QUESTION_WORDS and len(compact(term)) > 0]


def focus_term(question: str) -> str | None:
    """The word a question asks about: the noun right after an interrogative (どんな取組み, 何人), else the
    last content word before it (多職種研修会の目的は何 → 目的), else the last content word (…の回収率は)."""
    words = [word.term for word in default_tokenizer().words(question)]
    for index, term in enumerate(words):
        if term in INTERROGATIVES:
            after = words[index + 1] if index + 1 < len(words) else None
            if after and after not in QUESTION_WORDS:
                return after
            return _head([w for w in words[:index] if w not in QUESTION_WORDS])
    return _head([w for w in words if w not in QUESTION_WORDS])


def _head(words: list[str]) -> str | None:
    """The last word, or the one before it when the last is a one-character suffix (回収|率, 参加|者)."""
    if not words:
        return None
    if len(words[-1]) == 1 and len(words) > 1:
        return words[-2]
    return words[-1]


def _weights(
    terms: Sequence[str], units: Sequence[Unit], unit_terms: Sequence[set[str]], focus: str | None
) -> dict[str, float]:
    """Local IDF over the candidate units (a term in every line says little about which line answers),
    with the question's focus counting double."""
    total = len(units) or 1
    df = Counter(term for terms_of_unit in unit_terms for term in set(terms_of_unit) if term in terms)
    return {
        term: math.log(1.0 + total / (1.0 + df.get(term, 0))) * (FOCUS_BOOST if term == focus else 1.0)
        for term in set(terms)
    }


def score_units(question: str, results: Sequence[ScoredChunk]) -> list[tuple[float, float, Unit]]:
    """(score, coverage, unit) for every line of the retrieved chunks, best first.

    A term counts fully when the line holds it, and partly when the line's context does (the lines just
    before it, or its section path): 「目的：…」 answers 多職種研修会の目的 when the line above names the training.
    """
    terms = question_terms(question)
    units = [unit for rank, item in enumerate(results) for unit in units_of(item.chunk, rank)]
    if not terms or not units:
        return []
    unit_terms = [set(tokenize(unit.text)) for unit in units]
    weights = _weights(terms, units, unit_terms, focus_term(question))
    total_weight = sum(weights.values()) or 1.0
    section_terms = {item.chunk.chunk_id: set(tokenize(" ".join(item.chunk.section_path))) for item in results}
    query_terms = set(terms)
    scored: list[tuple[float, float, Unit]] = []
    for index, (unit, found) in enumerate(zip(units, unit_terms, strict=True)):
        if unit.is_noise:
            continue
        context = set(section_terms[unit.chunk.chunk_id])
        for previous in range(max(0, index - CONTEXT_LINES), index):
            if units[previous].chunk.chunk_id == unit.chunk.chunk_id:
                context |= unit_terms[previous]
        matched = sum(weight for term, weight in weights.items() if term in found)
        in_context = sum(weight for term, weight in weights.items() if term not in found and term in context)
        coverage = matched / total_weight
        score = coverage + CONTEXT_WEIGHT * in_context / total_weight + RANK_PRIOR / (1 + unit.rank)
        if found and len(found - query_terms) / len(found) < MIN_NOVELTY:
            score *= ECHO_PENALTY  # a line that only repeats the question (a title) does not answer it
        scored.append((score, coverage, unit))
    scored.sort(key=lambda item: (-item[0], item[2].rank, item[2].start))
    return scored


def _followers(unit: Unit, results: Sequence[ScoredChunk], limit: int) -> list[Unit]:
    """The lines after a heading (or sibling bullets after a bullet) in the same chunk."""
    siblings = units_of(unit.chunk, unit.rank)
    after = [other for other in siblings if other.start > unit.start]
    picked: list[Unit] = []
    for other in after:
        if other.is_heading or (unit.is_bullet and not other.is_bullet and picked):
            break
        if not other.is_noise:
            picked.append(other)
        if len(picked) >= limit:
            break
    return picked


def select(question: str, results: Sequence[ScoredChunk]) -> Selection | None:
    scored = score_units(question, results)
    if not scored:
        return None
    best_score, best_coverage, best = scored[0]
    wants_list = any(cue in question for cue in LIST_CUES)
    chosen: dict[tuple[str, int], Unit] = {}

    def take(unit: Unit) -> None:
        chosen.setdefault((unit.chunk.document_id, unit.start), unit)

    take(best)
    if best.is_heading or (wants_list and best.is_bullet):
        for follower in _followers(best, results, MAX_FOLLOWERS if best.is_heading else 3):
            take(follower)
    for score, _coverage, unit in scored[1:]:
        if len(chosen) >= MAX_PRIMARY_UNITS + (MAX_FOLLOWERS if best.is_heading else 0):
            break
        if score < 0.8 * best_score or unit.is_heading:
            continue
        take(unit)
    units = sorted(chosen.values(), key=lambda u: (u.rank, u.start))
    units = _trim(units, best)
    found = set().union(*(set(tokenize(u.text)) for u in units))
    found |= set(tokenize(" ".join(best.chunk.section_path)))
    terms = set(question_terms(question))
    coverage = len(terms & found) / len(terms) if terms else 0.0
    return Selection(units=units, best_score=best_score, coverage=max(coverage, best_coverage))


def _trim(units: list[Unit], best: Unit) -> list[Unit]:
    """Keep the answer short: the best unit always stays, then others in order while they fit."""
    kept: list[Unit] = []
    size = 0
    for unit in units:
        if unit is not best and size + len(unit.text) > MAX_ANSWER_CHARS:
            continue
        kept.append(unit)
        size += len(unit.text)
    return kept
