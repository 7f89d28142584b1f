"""Extractive passage answers: pick the lines that answer, in the document's own words, with citations.

Every line of the retrieved chunks is a candidate. Each gets a few measured features (how close it is to the
question in meaning and in words, whether it holds the kind of fact asked for, where it stands) and the fitted
line model (``assistant/answer_model.py``, weights from ``renkei fit``) turns them into the probability that the
line answers. The best line leads; the lines that belong with it (what follows a heading, the rest of its
paragraph or list) and other lines nearly as likely come along, as many as the fitted composition says.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np

from assistant.answer_model import AnswerModel, Composition
from assistant.evidence import Unit, units_of
from assistant.vocabulary import AnswerType, vocabulary
from knowledge.base import KnowledgeBase
from knowledge.retriever import ScoredChunk
from knowledge.text import compact, nfkc
from knowledge.tokenizer import default_tokenizer, tokenize
from knowledge.types import DocumentInfo
from records.dates import fiscal_year_of

# Answers stay short: a dump of passages is not an answer (the evaluation fails answers over 600 characters,
# citation marks and line breaks included); the fitted composition sets the budget below this bound.
MAX_ANSWER_CHARS = 520
MAX_TITLE_CHARS = 40
MAX_FOLLOWERS = 6
# A compound the line holds only in parts counts for this share of the whole word.
PART_CREDIT = 0.5
# Lines before a line that count as its context (a label line 「目的」 above 「…を目的とする」).
CONTEXT_LINES = 2
# One-character nouns (手, 気, 方, 次) are too generic to say what a question is about.
MIN_KEY_CHARS = 2
# Line lengths are measured against this (a long sentence is split at 。 beyond 160 characters).
LENGTH_SCALE = 80.0
# A number with what it counts: 令和5年度 and 令和6年度 are the same words to the tokenizer, and only the
# number tells the rows of a table apart. 第2回 and 2回目 are the same number of the same counter.
# 「会場：…」, 「■日時：…」, 「【講師】…」: a short label, then the value.
_LABEL = re.compile(r"^[\s・■●○◆□◇\-*#]*(?:【([^】]{1,12})】|([^：:\s【]{1,12})\s*[：:])")
_COUNTED_NUMBER = re.compile(r"([0-9]+)\s*(年度|年|月|日|回|号|条|期|区|部|章|節|項)")
# A year with its month names a fiscal year too (April–March): 令和7年3月8日 is in 令和6年度, not 令和7年度.
_YEAR_MONTH = re.compile(r"([0-9]+)\s*年\s*([0-9]{1,2})\s*月")

LINE_FEATURES: tuple[str, ...] = (
    # Similarity in meaning, in the question's own scale: every embedding model spreads its cosines
    # differently (e5 between 0.8 and 0.93, a hashing model between 0.2 and 0.6), so only how a line stands
    # among this question's candidates is a feature, and the weights hold for any model.
    "dense",  # z-score of the line's cosine to the question among the candidates
    "dense_rank",  # percentile of that cosine among the candidates (1 = the closest line)
    "lexical",  # IDF-weighted share of the question's words the line holds
    "lexical_gap",  # lexical minus the best candidate's lexical
    "key",  # share of the question's key words (weighted by rarity in the corpus) the line holds
    # share held only by the line's context: the lines just above, the heading it stands under, its section path
    # and its document's title
    "context",
    "focus",  # the word the question asks about is in the line
    "type_match",  # a type of answer is expected (date, count, place …) and the line has an instance
    "type_missing",  # a type is expected and the line has none
    "type_and_key",  # the line has an instance of the expected type and holds key words (the two together)
    "heading",  # a heading or a bare label line
    "title",  # a short marked line naming a section
    "heading_focus",  # a heading that names what is asked about
    "bullet",  # an item of a list
    "echo",  # share of the line's words that only repeat the question
    "length",  # length of the line (capped)
    "subject",  # share of the question's proper nouns (places, organisations) its document names
    # on a Q&A page the answer is the text under the page's question that matches the user's question
    "asked_above",  # how close (z-score, as dense) the page's question above the line is; 0 when none is
    "label",  # a 「label：value」 line whose label names what is asked (会場： for どこ, 参加者： for 何人)
    "numbers",  # share of the question's counted numbers (令和5年度, 第2回, 2回目) the line or its context holds
    "chunk_rank",  # 1 / (1 + rank of the chunk after fusion)
    "chunk_dense",  # 1 / (1 + rank of the chunk in dense retrieval), 0 when absent
    "chunk_lexical",  # 1 / (1 + rank of the chunk in lexical retrieval), 0 when absent
    # for questions that ask for several things (どんな取組み, 手順): an item under a matching heading answers
    "list_context",  # context, when the question asks for a list
    "list_bullet",  # bullet, when the question asks for a list
    "list_title",  # title, when the question asks for a list
)


@lru_cache(maxsize=50_000)
def terms_of(text: str) -> frozenset[str]:
    """The index terms of a line and its words' synonym groups (cached: the same passages come back query
    after query)."""
    return frozenset(
        term for word in default_tokenizer().words(text) for term in (word.term, *word.parts, *word.synonyms)
    )


def question_terms(question: str) -> list[str]:
    words = vocabulary().question_words
    return [term for term in tokenize(question) if term not in words and len(compact(term)) > 0]


@dataclass(frozen=True)
class Concept:
    """One word of the question: a compound counts once, whether a line has it whole or in parts."""

    term: str
    parts: tuple[str, ...]
    weight: float
    synonyms: tuple[str, ...] = ()

    def match(self, terms: frozenset[str] | set[str]) -> float:
        if self.term in terms or any(group in terms for group in self.synonyms):
            return 1.0  # the word, or a word of the same synonym group (決まり ~ 規則)
        if self.parts:
            return PART_CREDIT * sum(part in terms for part in self.parts) / len(self.parts)
        return 0.0


def concepts(question: str, unit_terms: Sequence[frozenset[str]]) -> list[Concept]:
    """The question's content words, weighted by local IDF over the candidate lines (a word in every line
    says little about which line answers)."""
    words_to_skip = vocabulary().question_words
    total = len(unit_terms) or 1
    seen: set[str] = set()
    result: list[Concept] = []
    for word in default_tokenizer().words(question):
        if word.term in words_to_skip or word.term in seen or not compact(word.term):
            continue
        seen.add(word.term)
        parts = tuple(p for p in word.parts if p not in words_to_skip)
        concept = Concept(word.term, parts, 0.0, word.synonyms)
        df = sum(1 for terms in unit_terms if concept.match(terms) == 1.0 or (parts and all(p in terms for p in parts)))
        result.append(Concept(word.term, parts, math.log(1.0 + total / (1.0 + df)), word.synonyms))
    return result


@dataclass
class Candidate:
    unit: Unit
    features: np.ndarray  # in LINE_FEATURES order
    evidence_terms: frozenset[str]  # the line's terms with its context's (lines above, section path)
    probability: float = 0.0

    def feature(self, name: str) -> float:
        return float(self.features[LINE_FEATURES.index(name)])


@dataclass
class Evidence:
    """What the retrieved passages offer for one question: every candidate line, and the question's key words
    (its content words other than question words, kinds of fact and the places it names), each weighted by
    its rarity in the whole corpus."""

    candidates: list[Candidate]
    keys: list[Concept]
    max_rarity: float  # the rarity of a word no passage has
    answer_type: AnswerType | None = None  # the kind of fact the question asks for, if its words say
    yes_no: bool = False  # the question asks whether, not what (no interrogative word)
    titles: list[str] = field(default_factory=list)  # of the passages' documents, best-ranked first

    def key_share(self, terms: frozenset[str] | set[str]) -> float:
        total = sum(c.weight for c in self.keys)
        return sum(c.weight * c.match(terms) for c in self.keys) / total if total else 1.0

    def rarest_missing(self, terms: frozenset[str] | set[str]) -> float:
        """The rarity (0–1) of the rarest key word ``terms`` lack: a rare word of the question that the
        answer does not hold says the answer is about something else."""
        missing = [c.weight for c in self.keys if c.match(terms) < 1.0]
        return max(missing, default=0.0) / self.max_rarity if self.max_rarity else 0.0


@dataclass
class Selection:
    units: list[Unit]
    best: Candidate
    candidates: list[Candidate]  # all of them, best first


def _inverse_rank(rank: int | None) -> float:
    return 0.0 if rank is None else 1.0 / rank


def key_concepts(kb: KnowledgeBase, question: str, proper_nouns: Sequence[str]) -> list[Concept]:
    """The nouns that say what the question is about: not interrogatives (何人, 何時), not the nouns that name
    a kind of fact (場所, 日時), not the places it names (those choose the documents)."""
    vocab = vocabulary()
    names = {compact(noun) for noun in proper_nouns}
    keys: list[Concept] = []
    for word in default_tokenizer().noun_words(question):
        term = compact(word.term)
        if len(term) < MIN_KEY_CHARS or made_of(term, names) or term.startswith(("何", "なに", "なん")):
            continue
        if any(c.term == word.term for c in keys):
            continue
        if word.term in vocab.question_words or word.term in vocab.attribute_nouns:
            continue
        parts = tuple(p for p in word.parts if p not in vocab.question_words)
        keys.append(Concept(word.term, parts, kb.lexical.rarity(word.term), word.synonyms))
    return keys


def made_of(term: str, names: set[str]) -> bool:
    """Whether ``term`` is one name or names one after another (横浜市港北区: 横浜市 + 港北区, an address the
    question's proper nouns give as its parts)."""
    if term in names:
        return True
    return any(term.startswith(name) and made_of(term[len(name) :], names) for name in names if name)


def line_label(text: str) -> str | None:
    """The label of a 「label：value」 line (compacted), if it has one and a value after it."""
    found = _LABEL.match(text)
    if found is None or not text[found.end() :].strip():
        return None
    return compact(found.group(1) or found.group(2))


def label_answers(label: str | None, wanted: Sequence[str]) -> bool:
    """Whether a line's label is one of the words that say what is asked (either holds the other: 参加者 and
    参加者数)."""
    return label is not None and any(word in label or label in word for word in wanted)


@lru_cache(maxsize=50_000)
def counted_numbers(text: str) -> frozenset[str]:
    """The numbers of ``text`` with their counters (5年度, 2回), NFKC so ５ is 5, separators dropped."""
    text = nfkc(text).replace(",", "")
    # an era's year counts like a Western one here: only the month decides which fiscal year it is in
    fiscal_years = {
        f"{fiscal_year_of(date(int(year), int(month), 1))}年度"
        for year, month in _YEAR_MONTH.findall(text)
        if int(year) >= 1 and 1 <= int(month) <= 12
    }
    return frozenset(f"{int(number)}{counter}" for number, counter in _COUNTED_NUMBER.findall(text)) | fiscal_years


def beyond_titles(found: list[Concept], titles: Sequence[str]) -> list[Concept]:
    """The question's words without those every passage's document has in its title: asked about 岡山市's
    在宅医療・介護連携推進事業実施要綱, 要綱 and 在宅医療 are in every line's document and tell no line apart
    (the words stay when nothing else would be left)."""
    if not titles:
        return found
    shared = frozenset.intersection(*(terms_of(title) for title in titles))
    kept = [concept for concept in found if not concept.match(shared) >= 1.0]
    return kept or found


def without_places(question: str, titles: Sequence[str]) -> str:
    """The question without the places that every passage's document is about (named in its title): once the
    passages are those of 吹田市's report, 吹田市 says nothing about which line answers, but every line that
    repeats it would look close. A place that is one of many inside a document (a ward of the city report)
    stays: it tells the lines apart."""
    text = nfkc(question)
    topic = text
    for place in default_tokenizer().place_names(text):
        if titles and all(compact(place) in compact(title) for title in titles):
            topic = topic.replace(place, "")
    return topic if default_tokenizer().noun_words(topic) else question  # what is left must still name a topic


def gather_evidence(
    kb: KnowledgeBase,
    question: str,
    results: Sequence[ScoredChunk],
    proper_nouns: Sequence[str] = (),
    documents: dict[str, DocumentText | None] | None = None,
) -> Evidence:
    """Every line of the retrieved chunks with its features (noise lines — page numbers, axes — left out).
    ``documents``: the passages' documents if the caller has read them already (see :func:`document_texts`)."""
    documents = documents if documents is not None else document_texts(kb, results)
    titles = list(dict.fromkeys(d.title for d in (documents[r.chunk.document_id] for r in results) if d is not None))
    keys = beyond_titles(key_concepts(kb, question, proper_nouns), titles)
    question = without_places(question, titles)
    vocab = vocabulary()
    focus = vocab.focus(question)
    evidence = Evidence(
        [],
        keys,
        kb.lexical.rarity("\x00"),
        vocab.answer_type(question, focus),
        vocab.asks_yes_or_no(question, focus),
        titles,
    )
    units = [unit for rank, item in enumerate(results) for unit in units_of(item.chunk, rank) if not unit.is_noise]
    if not units:
        return evidence
    unit_terms = [terms_of(unit.text) for unit in units]
    weighted = beyond_titles(concepts(question, unit_terms), titles)
    total_weight = sum(c.weight for c in weighted) or 1.0
    # a line's context: its section path and its document's title (the 日時 / 会場 / 参加者 block of a training
    # report is about the training its title names, though no line of the block repeats it)
    section_terms = {
        item.chunk.chunk_id: terms_of(" ".join((*item.chunk.section_path, _title(documents, item.chunk.document_id))))
        for item in results
    }
    by_chunk = {item.chunk.chunk_id: item for item in results}
    query_terms = set(question_terms(question))
    answer_type = evidence.answer_type
    asked_numbers = counted_numbers(question)
    wanted_labels = [
        compact(word) for word in (focus or "", *(c.term for c in keys)) if len(compact(word)) >= MIN_KEY_CHARS
    ]
    if answer_type is not None:
        wanted_labels += answer_type.labels
    section_numbers = {item.chunk.chunk_id: counted_numbers(" ".join(item.chunk.section_path)) for item in results}
    wants_list = float(vocab.wants_list(question))
    subjects = _subject_shares({r.chunk.document_id: documents[r.chunk.document_id] for r in results}, proper_nouns)
    dense = kb.passage_vectors([unit.text for unit in units]) @ kb.query_vectors([question])[0]
    rows: list[list[float]] = []
    contexts: list[frozenset[str]] = []
    heading_above: int | None = None  # the nearest heading or section title above the line, in its chunk
    for index, (unit, found) in enumerate(zip(units, unit_terms, strict=True)):
        if heading_above is not None and units[heading_above].chunk.chunk_id != unit.chunk.chunk_id:
            heading_above = None
        context = set(section_terms[unit.chunk.chunk_id])
        numbers = set(section_numbers[unit.chunk.chunk_id]) | counted_numbers(unit.text)
        above = set(range(max(0, index - CONTEXT_LINES), index)) | (
            {heading_above} if heading_above is not None else set()
        )
        for previous in above:
            if units[previous].chunk.chunk_id == unit.chunk.chunk_id:
                context |= unit_terms[previous]
                numbers |= counted_numbers(units[previous].text)
        if unit.is_heading or _is_title_line(unit):
            heading_above = index
        own = [c.match(found) for c in weighted]
        lexical = sum(c.weight * m for c, m in zip(weighted, own, strict=True)) / total_weight
        in_context = sum(c.weight * max(0.0, c.match(context) - m) for c, m in zip(weighted, own, strict=True))
        has_type = answer_type is not None and answer_type.found_in(unit.text)
        heading = unit.is_heading
        has_focus = focus is not None and focus in found
        scored = by_chunk[unit.chunk.chunk_id]
        contexts.append(frozenset(found | context))
        rows.append([
            float(dense[index]), 0.0, lexical, 0.0, evidence.key_share(found), in_context / total_weight,
            float(has_focus), float(has_type), float(answer_type is not None and not has_type),
            float(has_type) * evidence.key_share(found),
            float(heading), float(_is_title_line(unit)), float(heading and has_focus), float(unit.is_bullet),
            len(found & query_terms) / len(found) if found else 0.0,
            min(1.0, len(unit.text) / LENGTH_SCALE),
            subjects[unit.chunk.document_id],
            0.0,  # asked_above: set below, from the standardised similarities
            float(label_answers(line_label(unit.text), wanted_labels)),
            len(asked_numbers & numbers) / len(asked_numbers) if asked_numbers else 0.0,
            1.0 / (1 + unit.rank), _inverse_rank(scored.dense_rank), _inverse_rank(scored.lexical_rank),
            wants_list * in_context / total_weight, wants_list * float(unit.is_bullet),
            wants_list * float(_is_title_line(unit)),
        ])  # fmt: skip
    matrix = np.asarray(rows, dtype=float)
    cosines = matrix[:, LINE_FEATURES.index("dense")].copy()
    spread = cosines.std() or 1.0
    matrix[:, LINE_FEATURES.index("dense")] = (cosines - cosines.mean()) / spread
    order = cosines.argsort(kind="stable").argsort(kind="stable")
    matrix[:, LINE_FEATURES.index("dense_rank")] = (order + 1) / len(cosines)
    lexical_column = matrix[:, LINE_FEATURES.index("lexical")]
    matrix[:, LINE_FEATURES.index("lexical_gap")] = lexical_column - lexical_column.max()
    matrix[:, LINE_FEATURES.index("asked_above")] = _asked_above(units, matrix[:, LINE_FEATURES.index("dense")])
    evidence.candidates = [
        Candidate(unit, row, terms) for unit, row, terms in zip(units, matrix, contexts, strict=True)
    ]
    return evidence


def _asked_above(units: list[Unit], dense: np.ndarray) -> np.ndarray:
    """Per line: the similarity of the Q&A question it answers (the nearest question line above it in its
    chunk), 0 for lines under no question and for the question lines themselves."""
    asked = np.zeros(len(units))
    question: int | None = None
    for index, unit in enumerate(units):
        if index and units[index - 1].chunk.chunk_id != unit.chunk.chunk_id:
            question = None
        if unit.is_question:
            question = index
        elif question is not None:
            asked[index] = dense[question]
    return asked


@dataclass(frozen=True)
class DocumentText:
    title: str
    searchable: str  # title and text, compacted: what a question's names are looked for in


# Compacting a whole document is the costly part of matching names; a document's text changes only with its
# hash, so the compact form is kept per (document id, sha256) for the documents questions keep coming back to.
_SEARCHABLE_ENTRIES = 256
_searchable: OrderedDict[tuple[str, str], str] = OrderedDict()
_searchable_lock = threading.Lock()


def document_texts(kb: KnowledgeBase, results: Sequence[ScoredChunk]) -> dict[str, DocumentText | None]:
    """The titles and searchable texts of the retrieved passages' documents, each document read once."""
    texts: dict[str, DocumentText | None] = {}
    for document_id in dict.fromkeys(r.chunk.document_id for r in results):
        document = kb.document(document_id)
        texts[document_id] = None if document is None else DocumentText(document.title, _compacted(document))
    return texts


def _title(documents: dict[str, DocumentText | None], document_id: str) -> str:
    document = documents.get(document_id)
    return document.title if document is not None else ""


def _compacted(document: DocumentInfo) -> str:
    key = (document.document_id, document.sha256)
    with _searchable_lock:
        if key in _searchable:
            _searchable.move_to_end(key)
            return _searchable[key]
    text = compact(document.title + document.text)
    with _searchable_lock:
        _searchable[key] = text
        while len(_searchable) > _SEARCHABLE_ENTRIES:
            _searchable.popitem(last=False)
    return text


def _subject_shares(documents: dict[str, DocumentText | None], proper_nouns: Sequence[str]) -> dict[str, float]:
    """Per document: the share of the question's proper nouns the document names (1.0 when it names none)."""
    wanted = [compact(noun) for noun in proper_nouns]
    shares: dict[str, float] = {}
    for document_id, document in documents.items():
        if not wanted or document is None:
            shares[document_id] = 1.0 if not wanted else 0.0
            continue
        shares[document_id] = sum(noun in document.searchable for noun in wanted) / len(wanted)
    return shares


def subject_documents(
    results: list[ScoredChunk], documents: dict[str, DocumentText | None], proper_nouns: Sequence[str]
) -> list[str]:
    """The documents (in rank order) that name the most of the question's places and organisations; none when
    the question names none, or no document names any."""
    if not proper_nouns or not results:
        return []
    shares = _subject_shares(documents, proper_nouns)
    best = max(shares.values())
    if best == 0:
        return []
    return [
        document_id
        for document_id in dict.fromkeys(r.chunk.document_id for r in results)
        if shares[document_id] == best
    ]


def rank_candidates(found: list[Candidate], model: AnswerModel) -> list[Candidate]:
    """The candidates with their line-model probability, best first (ties: better chunk, earlier line)."""
    if not found:
        return []
    probabilities = model.line.probabilities(np.vstack([c.features for c in found]))
    for candidate, probability in zip(found, probabilities, strict=True):
        candidate.probability = float(probability)
    return sorted(found, key=lambda c: (-c.probability, c.unit.rank, c.unit.start))


def select(ranked: list[Candidate], composition: Composition) -> Selection | None:
    """The answer's lines, in document order: the best line with what belongs to it, then close runners-up."""
    if not ranked:
        return None
    best = ranked[0]
    chosen: dict[tuple[str, int], Unit] = {}

    def take(unit: Unit) -> None:
        chosen.setdefault((unit.chunk.document_id, unit.start), unit)

    take(best.unit)
    if best.unit.is_heading or _is_title_line(best.unit):
        for follower in _followers(best.unit, MAX_FOLLOWERS, through_subsections=not best.unit.is_heading):
            take(follower)
    elif best.unit.is_question:  # the page's own question: its answer follows
        for follower in _continuation(best.unit, max(1, composition.continuation)):
            take(follower)
    else:
        for follower in _continuation(best.unit, composition.continuation):
            take(follower)
        if best.unit.is_bullet:
            for sibling in _siblings(best.unit, composition.siblings):
                take(sibling)
    primary = list(chosen.values())
    extra = 0
    for candidate in ranked[1:]:
        if extra >= composition.extra or candidate.probability < composition.ratio * best.probability:
            break
        if candidate.unit.is_heading:
            continue
        key = (candidate.unit.chunk.document_id, candidate.unit.start)
        if key not in chosen:
            take(candidate.unit)
            extra += 1
            if _is_title_line(candidate.unit):  # a section title says what follows: bring what follows
                for follower in _followers(candidate.unit, MAX_FOLLOWERS, through_subsections=True):
                    take(follower)
    rest = [unit for unit in chosen.values() if unit not in primary]
    budget = min(composition.max_chars, MAX_ANSWER_CHARS)
    units = _drop_dangling_headings(sorted(_trim(primary + rest, budget), key=lambda u: (u.rank, u.start)), best.unit)
    return Selection(units=units, best=best, candidates=ranked)


def supporting_type_found(selection: Selection, answer_type: AnswerType | None) -> bool:
    """Whether the answer's lines hold an instance of the answer type the question expects."""
    return answer_type is None or any(answer_type.found_in(unit.text) for unit in selection.units)


def _is_title_line(unit: Unit) -> bool:
    """A short marked line that names a section (④ 区役所…への個別支援, 【…】, ・…の開催)."""
    return unit.marker is not None and len(unit.text) <= MAX_TITLE_CHARS and not unit.text.endswith("。")


def _continuation(unit: Unit, limit: int) -> list[Unit]:
    """The lines right after ``unit`` that continue it: same chunk, up to the next heading."""
    picked: list[Unit] = []
    for other in units_of(unit.chunk, unit.rank):
        if other.start <= unit.start or other.is_noise:
            continue
        if len(picked) >= limit or other.is_heading or _is_title_line(other):
            break
        picked.append(other)
    return picked


def _followers(unit: Unit, limit: int, *, through_subsections: bool = False) -> list[Unit]:
    """The lines after a heading in the same chunk. From a section title (``through_subsections``) reading
    goes on through sub-headings until the next title of its kind."""
    after = [other for other in units_of(unit.chunk, unit.rank) if other.start > unit.start]
    picked: list[Unit] = []
    for other in after:
        if through_subsections:
            if other.marker == unit.marker and unit.marker is not None:
                break
        elif other.is_heading:
            break
        if not other.is_noise:
            picked.append(other)
        if len(picked) >= limit:
            break
    return picked


def _siblings(unit: Unit, limit: int) -> list[Unit]:
    """The items of the same list (no heading in between) nearest to ``unit``: asked for 「どんな取組み」, the
    answer is several items of the list, not one."""
    if limit <= 0:
        return []
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


def _trim(units: list[Unit], budget: int) -> list[Unit]:
    """Keep the answer short: units in priority order (the best first) while they fit."""
    kept: list[Unit] = []
    size = 0
    for unit in units:
        if kept and size + len(unit.text) > budget:
            continue
        kept.append(unit)
        size += len(unit.text)
    return kept
