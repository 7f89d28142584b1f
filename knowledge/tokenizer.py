"""Japanese tokenisation for the lexical (BM25) index.

SudachiPy's long units (SplitMode.C) are kept whole *and* broken into their short units
(SplitMode.A), so a passage containing a compound is found both by the compound and by its parts.
Tokens are Sudachi's normalised forms (取組み → 取り組み, ＡＣＰ → acp), lower-cased; particles,
auxiliaries, symbols and whitespace are dropped. Numbers survive as tokens (91.5, 43, 9 月 19 日).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Collection, Iterator
from typing import Any, NamedTuple

from sudachipy import Dictionary, Morpheme, SplitMode

# Stored token lists depend on this; change it whenever the tokens a text yields change.
TOKENIZER_VERSION = "sudachi-core/C+A/nfkc/v1"

# Sudachi rejects input over 49,149 UTF-8 bytes; stay well under it.
MAX_PIECE_BYTES = 32_000
# A UTF-8 character is at most 4 bytes, so this many characters always fit.
_HARD_CUT_CHARS = MAX_PIECE_BYTES // 4

DROPPED_POS = frozenset({"助詞", "助動詞", "補助記号", "記号", "空白"})

_SENTENCE_END = re.compile(r"(?<=[。．！？!?\n])")

# Kanji, kana, the iteration mark and the long-vowel mark. Whitespace between two of them is an
# artefact of PDF extraction ("採 用 月", "自分ら\n\nしい"), not a word boundary: drop it.
_JA = r"[\u3005\u3041-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_SPACE_INSIDE_JAPANESE = re.compile(rf"(?<={_JA})\s+(?={_JA})")


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _hard_cut(text: str) -> Iterator[str]:
    for start in range(0, len(text), _HARD_CUT_CHARS):
        yield text[start : start + _HARD_CUT_CHARS]


def _units(text: str) -> Iterator[str]:
    """Lines, then sentences, then fixed slices: each unit fits in one Sudachi call."""
    for line in text.splitlines(keepends=True):
        if _byte_len(line) <= MAX_PIECE_BYTES:
            yield line
            continue
        for sentence in _SENTENCE_END.split(line):
            if _byte_len(sentence) <= MAX_PIECE_BYTES:
                yield sentence
            else:
                yield from _hard_cut(sentence)


def split_for_sudachi(text: str, max_bytes: int = MAX_PIECE_BYTES) -> list[str]:
    """Split ``text`` at line/sentence boundaries into pieces of at most ``max_bytes`` bytes."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for unit in _units(text):
        unit_size = _byte_len(unit)
        if current and size + unit_size > max_bytes:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(unit)
        size += unit_size
    if current:
        pieces.append("".join(current))
    return pieces


def _keep(morpheme: Morpheme) -> bool:
    # Dropping pronouns and light verbs (する, いる, ある) as well was measured: no better on the dev set.
    return morpheme.part_of_speech()[0] not in DROPPED_POS


def _term(morpheme: Morpheme) -> str:
    term: str = morpheme.normalized_form().strip().lower()
    if term.isascii() and term.isdigit():
        return term.lstrip("0") or "0"  # 09 and 9 are the same month
    return term


class Word(NamedTuple):
    """One long unit (SplitMode.C) and, if it is a compound, its short units (SplitMode.A)."""

    term: str
    parts: tuple[str, ...] = ()
    # Sudachi's synonym groups of the word, as tokens (決まり, 規則 and ルール share one): the same concept
    # in other words. Not indexed for BM25; the answer layer matches on them.
    synonyms: tuple[str, ...] = ()


SYNONYM_PREFIX = "≈"


def synonym_token(group_id: int) -> str:
    return f"{SYNONYM_PREFIX}{group_id}"


class JapaneseTokenizer:
    """Thread-safe: the Sudachi dictionary is shared, each thread gets its own tokenizer."""

    def __init__(self, dictionary: Dictionary | None = None) -> None:
        self._dictionary = dictionary or Dictionary(dict="core")
        self._local = threading.local()

    def _sudachi(self) -> Any:  # sudachipy.Tokenizer: sudachipy ships no types
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            tokenizer = self._dictionary.tokenizer(SplitMode.C)
            self._local.tokenizer = tokenizer
        return tokenizer

    def tokenize(self, text: str) -> list[str]:
        """Index terms of ``text`` in order: each word, then its parts; [] for symbol-only text."""
        return [term for word in self.words(text) for term in (word.term, *word.parts)]

    def words(self, text: str) -> list[Word]:
        """The content words of ``text`` in order (queries use these: see ``LexicalIndex.search``)."""
        return [word for word in map(_word, self._morphemes(text)) if word is not None]

    def noun_words(self, text: str) -> list[Word]:
        """The nouns of ``text`` that can name a topic, as words (with parts and synonym groups): not numerals,
        not adverbial nouns (だいたい, いつごろ), not a counter after a numeral (何|パーセント, 3|回)."""
        words: list[Word] = []
        previous: tuple[str, ...] = ()
        for morpheme in self._morphemes(text):
            pos = morpheme.part_of_speech()
            counter = pos[2] == "助数詞可能" and previous[:2] == ("名詞", "数詞")
            noun = pos[0] == "名詞" and pos[1] != "数詞" and pos[2] != "副詞可能" and not counter
            if noun and (word := _word(morpheme)) is not None:
                words.append(word)
            previous = pos
        return words

    def proper_nouns(self, text: str) -> list[str]:
        """Sudachi's 固有名詞 (places, organisations, people) of ``text``, as written (NFKC). A proper noun just
        before a numeral is an era of a date (令和5年度, 平成31年), not something the text is about."""
        morphemes = list(self._morphemes(text))
        return [
            name
            for morpheme, following in zip(morphemes, [*morphemes[1:], None], strict=True)
            if morpheme.part_of_speech()[1] == "固有名詞"
            and not (following is not None and following.part_of_speech()[1] == "数詞")
            for name in _place_parts(morpheme)
        ]

    def named_compounds(self, text: str, heads: Collection[str]) -> list[str]:
        """Compounds that name one place or body — a run of nouns holding a proper noun and ending in one of
        ``heads`` (城南|中央|病院 → 城南中央病院): the whole name is what a document must hold, not its parts."""
        found: list[str] = []
        run: list[Morpheme] = []
        for morpheme in [*self._morphemes(text), None]:
            if morpheme is not None and _in_noun_run(morpheme):
                run.append(morpheme)
                continue
            if len(run) > 1 and run[-1].surface() in heads and any(m.part_of_speech()[1] == "固有名詞" for m in run):
                found.append("".join(m.surface() for m in run))
            run = []
        return found

    def person_names(self, text: str, titles: Collection[str]) -> list[str]:
        """People named in ``text`` (NFKC): a surname followed by a given name (川上 直人), or by one of
        ``titles`` (藤田先生, 大野委員, 中園歯科医師). Sudachi tags a surname alone too eagerly to trust it
        (日又 in 「開設日又は」), so a surname counts only with what makes it a name."""
        morphemes = list(self._morphemes(text))
        names: list[str] = []
        for index, morpheme in enumerate(morphemes):
            if morpheme.part_of_speech()[1:4] != ("固有名詞", "人名", "姓"):
                continue
            following = morphemes[index + 1 : index + 3]
            if following and following[0].part_of_speech()[1:4] == ("固有名詞", "人名", "名"):
                names.append(morpheme.surface() + following[0].surface())
            elif (after := "".join(m.surface() for m in following)) and after.startswith(tuple(titles)):
                names.append(morpheme.surface())
        return names

    def place_names(self, text: str) -> list[str]:
        """The place names (Sudachi's 固有名詞・地名) of ``text``, as written (NFKC); an address as its parts."""
        return [
            name
            for morpheme in self._morphemes(text)
            if morpheme.part_of_speech()[1:3] == ("固有名詞", "地名")
            for name in _place_parts(morpheme)
        ]

    def _morphemes(self, text: str) -> Iterator[Morpheme]:
        """Sudachi's long units of ``text`` after NFKC and joining PDF-split Japanese."""
        normalized = _SPACE_INSIDE_JAPANESE.sub("", unicodedata.normalize("NFKC", text))
        if not normalized.strip():
            return
        sudachi = self._sudachi()
        for piece in split_for_sudachi(normalized):
            yield from sudachi.tokenize(piece)


def _in_noun_run(morpheme: Morpheme) -> bool:
    pos: tuple[str, ...] = morpheme.part_of_speech()
    return (pos[0] == "名詞" and pos[1] != "数詞") or (pos[0] == "接尾辞" and pos[1] == "名詞的") or pos[0] == "接頭辞"


def _word(morpheme: Morpheme) -> Word | None:
    if not _keep(morpheme):
        return None
    term = _term(morpheme)
    if not term:
        return None
    synonyms = tuple(synonym_token(group) for group in morpheme.synonym_group_ids())
    units = morpheme.split(SplitMode.A)
    if len(units) < 2:
        return Word(term, (), synonyms)
    parts = tuple(p for p in (_term(unit) for unit in units if _keep(unit)) if p)
    return Word(term, parts, synonyms)


_default: JapaneseTokenizer | None = None
_default_lock = threading.Lock()


def default_tokenizer() -> JapaneseTokenizer:
    """The process-wide tokenizer (the dictionary loads once, ~0.2 s)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = JapaneseTokenizer()
        return _default


def tokenize(text: str) -> list[str]:
    return default_tokenizer().tokenize(text)


def _place_parts(morpheme: Morpheme) -> list[str]:
    """A place name as the places it names: an address (大阪市鶴見区, one long unit) is its middle units, the
    city and the ward (SplitMode.B: 大阪市 / 鶴見区), for a document may name them apart; any other name whole."""
    if morpheme.part_of_speech()[2] == "地名":
        parts = [part.surface() for part in morpheme.split(SplitMode.B)]
        if len(parts) > 1:
            return parts
    return [morpheme.surface()]
