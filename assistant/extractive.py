"""Extractive passage answers: pick the lines that answer, in the document's own words, with citations."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from assistant.evidence import Unit, compact, units_of
from knowledge.retriever import ScoredChunk
from knowledge.tokenizer import default_tokenizer, tokenize

# Words that frame a question rather than say what it is about.
QUESTION_WORDS = frozenset(
    "何 なに なん いつ どこ 誰 だれ どう どの どんな どのよう どれ どれ位 いくら 幾ら いくつ 幾つ 教える 教え 下さる "
    "ある 有る 居る いる する 為る 成る なる 出来る できる 思う 言う 云う 事 こと 物 もの 方 ため 為 今 私 僕 貴方 あなた "
    "ます です 様 よう ね か 位 くらい ぐらい 頃 について 関する 関して 知る 分かる 分る 了解 件 場合 的 等 など "
    "他 外 ほか よそ".split()
)
LIST_CUES = ("どんな", "どのような", "どのように", "どう", "何を", "何が", "意見", "感想", "要望", "声", "取組", "取り組", "内容", "一覧")

MAX_PRIMARY_UNITS = 4
MAX_TITLE_CHARS = 40
MAX_FOLLOWERS = 6
MAX_SIBLINGS = 3
CLOSE_SCORE = 0.9
MAX_ANSWER_CHARS = 420
RANK_PRIOR = 0.08
CONTEXT_WEIGHT = 0.5
FOCUS_BOOST = 2.0
PART_CREDIT = 0.5
ANSWER_TYPE_BONUS = 0.3
HEADING_FOCUS_BONUS = 0.3
MIN_NOVELTY = 0.34
ECHO_PENALTY = 0.6
# Interrogatives followed by what is asked about: a noun (どんな取組み, 何人) or a verb (どう活かす, どう広める).
DETERMINERS = frozenset("何 なに なん どんな どの どのよう どう いかが".split())
INTERROGATIVES = frozenset("何 なに なん いつ どこ 誰 だれ どう どの どんな どのよう どれ いくら 幾ら いくつ 幾つ".split())
CONTEXT_LINES = 2


@dataclass
class Selection:
    units: list[Unit]
    best_score: float
    coverage: float  # share of the question's weighted terms found in the selected units


@lru_cache(maxsize=50_000)
def terms_of(text: str) -> frozenset[str]:
    """The index terms of a line (cached: the same passages come back query after query)."""
    return frozenset(tokenize(text))


def question_terms(question: str) -> list[str]:
    return [term for term in tokenize(question) if term not in QUESTION_WORDS and len(compact(term)) > 0]


def focus_term(question: str) -> str | None:
    """The word a question asks about: the word right after an interrogative (どんな取組み, どう活かす), else the
    last content word before it (多職種研修会の目的は何 → 目的), else the last content word (…の回収率は)."""
    words = [word.term for word in default_tokenizer().words(question)]
    for index, term in enumerate(words):
        if term in INTERROGATIVES:
            after = words[index + 1] if index + 1 < len(words) else None
            if term in DETERMINERS and after and after not in QUESTION_WORDS:
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


@dataclass(frozen=True)
class Concept:
    """One word of the question: a compound counts once, whether a line has it whole or in parts."""

    term: str
    parts: tuple[str, ...]
    weight: float

    def match(self, terms: set[str]) -> float:
        if self.term in terms:
            return 1.0
        if self.parts:
            return PART_CREDIT * sum(part in terms for part in self.parts) / len(self.parts)
        return 0.0


def concepts(question: str, unit_terms: Sequence[set[str]]) -> list[Concept]:
    """The question's content words, weighted by local IDF over the candidate lines (a word in every line
    says little about which line answers), the question's focus counting double."""
    focus = focus_term(question)
    total = len(unit_terms) or 1
    seen: set[str] = set()
    result: list[Concept] = []
    for word in default_tokenizer().words(question):
        if word.term in QUESTION_WORDS or word.term in seen or not compact(word.term):
            continue
        seen.add(word.term)
        parts = tuple(p for p in word.parts if p not in QUESTION_WORDS)
        df = sum(1 for terms in unit_terms if word.term in terms or (parts and all(p in terms for p in parts)))
        # a focus no candidate line holds cannot tell lines apart: it gets no boost
        boost = FOCUS_BOOST if word.term == focus and df else 1.0
        weight = math.log(1.0 + total / (1.0 + df)) * boost
        result.append(Concept(word.term, parts, weight))
    return result


def score_units(
    question: str, results: Sequence[ScoredChunk], *, anchors: bool = False
) -> list[tuple[float, float, Unit]]:
    """(score, coverage, unit) for every line of the retrieved chunks, best first.

    A term counts fully when the line holds it, and partly when the line's context does (the lines just
    before it, or its section path): 「目的：…」 answers 多職種研修会の目的 when the line above names the training.
    """
    units = [unit for rank, item in enumerate(results) for unit in units_of(item.chunk, rank)]
    unit_terms = [terms_of(unit.text) for unit in units]
    weighted = concepts(question, unit_terms)
    if not weighted or not units:
        return []
    total_weight = sum(c.weight for c in weighted) or 1.0
    section_terms = {item.chunk.chunk_id: terms_of(" ".join(item.chunk.section_path)) for item in results}
    query_terms = set(question_terms(question))
    answer_type = expected_answer_type(question)
    focus = focus_term(question)
    scored: list[tuple[float, float, Unit]] = []
    for index, (unit, found) in enumerate(zip(units, unit_terms, strict=True)):
        if unit.is_noise:
            continue
        context = set(section_terms[unit.chunk.chunk_id])
        for previous in range(max(0, index - CONTEXT_LINES), index):
            if units[previous].chunk.chunk_id == unit.chunk.chunk_id:
                context |= unit_terms[previous]
        own = [c.match(found) for c in weighted]
        matched = sum(c.weight * m for c, m in zip(weighted, own, strict=True))
        in_context = sum(
            c.weight * max(0.0, c.match(context) - m) for c, m in zip(weighted, own, strict=True)
        )
        coverage = matched / total_weight
        score = coverage + CONTEXT_WEIGHT * in_context / total_weight + RANK_PRIOR / (1 + unit.rank)
        if unit.is_heading and focus is not None and focus in found:
            score += HEADING_FOCUS_BONUS  # 【課題・困っていること】 for 「…の課題は？」: the list under it answers
        if answer_type is not None and answer_type.search(unit.text):
            score += ANSWER_TYPE_BONUS  # いつ → a line with a date, 何人 → a line with a head count …
        if found and len(found - query_terms) / len(found) < MIN_NOVELTY and not (anchors and unit.marker):
            score *= ECHO_PENALTY  # a line that only repeats the question (a title) does not answer it
        scored.append((score, coverage, unit))
    scored.sort(key=lambda item: (-item[0], item[2].rank, item[2].start))
    return scored


ANSWER_TYPES: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    (("いつから", "いつ頃から"), re.compile(r"(令和|平成|年度|[0-9０-９]+\s*月).{0,8}(より|から|以降)")),
    (("いつ", "何日", "何月", "日時", "日程", "時期", "期間"), re.compile(r"(令和|平成|[0-9０-９]+\s*[月日]|年度|～)")),
    (("何人", "何名", "人数", "参加者数"), re.compile(r"[0-9０-９]+\s*[名人]")),
    (("どこ", "場所", "会場"), re.compile(r"(センター|会館|ホール|会場|場\s*所)")),
    (("頻度", "どのくらいの間隔", "何回"), re.compile(r"(毎月|毎週|毎年|年[0-9０-９]+回|月[0-9０-９]+回|回)")),
    (("回収率", "割合", "何%", "何％"), re.compile(r"[0-9０-９.]+\s*[%％]")),
)


def expected_answer_type(question: str) -> re.Pattern[str] | None:
    """What an answering line must contain for an いつ / 何人 / どこ … question, if the question says."""
    for cues, pattern in ANSWER_TYPES:
        if any(cue in question for cue in cues):
            return pattern
    return None


def _is_title_line(unit: Unit) -> bool:
    """A short marked line that names a section (④ 区役所…への個別支援, 【…】, ・…の開催)."""
    return unit.marker is not None and len(unit.text) <= MAX_TITLE_CHARS and not unit.text.endswith("。")


def _followers(unit: Unit, limit: int, *, through_subsections: bool = False) -> list[Unit]:
    """The lines after a heading (or sibling bullets after a bullet) in the same chunk. From a section
    title (``through_subsections``) reading goes on through sub-headings until the next title of its kind."""
    siblings = units_of(unit.chunk, unit.rank)
    after = [other for other in siblings if other.start > unit.start]
    own_marker = unit.marker
    picked: list[Unit] = []
    for other in after:
        if through_subsections:
            if other.marker == own_marker and own_marker is not None:
                break
        elif other.is_heading or (unit.is_bullet and not other.is_bullet and picked):
            break
        if not other.is_noise:
            picked.append(other)
        if len(picked) >= limit:
            break
    return picked


def _siblings(unit: Unit, limit: int) -> list[Unit]:
    """The bullets of the same list (no heading in between) nearest to ``unit``: for 「どう言っていますか」 the
    answer is several of the voices around the best one, not one line."""
    siblings = units_of(unit.chunk, unit.rank)
    index = next(i for i, other in enumerate(siblings) if other.start == unit.start)
    block: list[Unit] = []
    for step in (-1, 1):
        position = index + step
        while 0 <= position < len(siblings) and not siblings[position].is_heading:
            if siblings[position].is_bullet:
                block.append(siblings[position])
            position += step
    block.sort(key=lambda other: abs(other.start - unit.start))
    return block[:limit]


def select(question: str, results: Sequence[ScoredChunk]) -> Selection | None:
    wants_list = any(cue in question for cue in LIST_CUES)
    scored = score_units(question, results, anchors=wants_list)
    if not scored:
        return None
    best_score, best_coverage, best = scored[0]
    if wants_list and _is_title_line(best) and not _followers(best, 1, through_subsections=True):
        # a section title with nothing under it names the topic; a close runner-up that says something answers
        runner_up = next(((sc, cov, u) for sc, cov, u in scored[1:3] if not _is_title_line(u)), None)
        if runner_up is not None and runner_up[0] >= CLOSE_SCORE * best_score:
            best_score, best_coverage, best = runner_up
    chosen: dict[tuple[str, int], Unit] = {}

    def take(unit: Unit) -> None:
        chosen.setdefault((unit.chunk.document_id, unit.start), unit)

    take(best)
    anchored = wants_list and _is_title_line(best) and any(
        not f.is_noise for f in _followers(best, 1, through_subsections=True)
    )
    if anchored:  # a section title that repeats the question: the answer is what the section says
        for follower in _followers(best, MAX_FOLLOWERS, through_subsections=True):
            take(follower)
    elif best.is_heading:
        for follower in _followers(best, MAX_FOLLOWERS):
            take(follower)
    elif wants_list and best.is_bullet:
        for sibling in _siblings(best, MAX_SIBLINGS):
            take(sibling)
    primary = list(chosen.values())
    if not anchored:
        for score, _coverage, unit in scored[1:]:
            if len(chosen) >= MAX_PRIMARY_UNITS + (MAX_FOLLOWERS if best.is_heading else 0):
                break
            if score < 0.8 * best_score or unit.is_heading:
                continue
            take(unit)
    extra = [unit for unit in chosen.values() if unit not in primary]
    units = _drop_dangling_headings(sorted(_trim(primary + extra), key=lambda u: (u.rank, u.start)), best)
    found = set().union(*(terms_of(u.text) for u in units))
    found |= terms_of(" ".join(best.chunk.section_path))
    terms = set(question_terms(question))
    coverage = len(terms & found) / len(terms) if terms else 0.0
    return Selection(units=units, best_score=best_score, coverage=max(coverage, best_coverage))


def _drop_dangling_headings(units: list[Unit], best: Unit) -> list[Unit]:
    """A heading with nothing of its own after it (the answer was cut there) says nothing."""
    kept: list[Unit] = []
    for index, unit in enumerate(units):
        following = units[index + 1] if index + 1 < len(units) else None
        dangling = following is None or following.chunk.chunk_id != unit.chunk.chunk_id
        if unit.is_heading and dangling and unit is not best:
            continue
        kept.append(unit)
    return kept


def _trim(units: list[Unit]) -> list[Unit]:
    """Keep the answer short: units in priority order (the best first) while they fit."""
    kept: list[Unit] = []
    size = 0
    for unit in units:
        if kept and size + len(unit.text) > MAX_ANSWER_CHARS:
            continue
        kept.append(unit)
        size += len(unit.text)
    return kept
