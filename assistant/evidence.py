"""Evidence units: the lines and sentences of retrieved chunks, with exact document offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.text import compact
from knowledge.types import Chunk

# Lines longer than this are read sentence by sentence: an answer quotes the sentence that answers, not its
# whole paragraph (authored files write a paragraph on one line).
MAX_UNIT_CHARS = 60
_SENTENCE_END = re.compile(r"(?<=[。！？])(?![）」』)])")  # not inside （以下「…」という。）
_HEADING = re.compile(r"^\s*(?:【[^】]{1,30}】|＜[^＞]{1,30}＞|〈[^〉]{1,30}〉|<[^>]{1,30}>)\s*$")
_LABEL_ONLY = re.compile(r"^\s*\S{1,20}[：:]\s*$")
_BULLET = re.compile(r"^\s*(?:[・･•〇○●◎■□◆◇※]|[①-⑳]|（[0-9０-９]+）|\([0-9]+\)|[0-9０-９]+[.．)）])")
MARKERS = {"bracket": "【", "angle": "＜〈<", "paren": "（(", "bullet": "・･•", "circle": "〇○●◎"}
# A question of a Q&A page: 「Q1. 誰が相談できますか。」, 「**問　…**」, or any line ending in a question mark.
_QUESTION_LINE = re.compile(r"^[\s*#]*(?:Q|Ｑ|問)[0-9０-９]*(?:\s*[.．:：、)）]|\s)|[？?][\s*）)」]*$")
_NOISE = re.compile(r"^[\s0-9０-９%％.．,、\-–—~～]*$")
# A table cell on a line of its own (PDF and Word tables come out a cell per line): a number with its unit.
# It belongs to the row's label on the line before: 「研修全体の満足度」 / 「93.7％」.
_VALUE_CELL = re.compile(
    r"^[0-9０-９][0-9０-９,，.．]*\s*(?:名|人|件|回|冊|部|か所|カ所|ヶ所|箇所|団体|機関|事業所|%|％|円|千円|万円|時間|分|日)?$"
)


@dataclass(frozen=True)
class Unit:
    """A line or sentence of a chunk. ``text == document_text[start:end]``."""

    chunk: Chunk
    rank: int  # retrieval rank of the chunk, 0 = best
    start: int
    end: int
    text: str

    @property
    def is_heading(self) -> bool:
        return bool(_HEADING.match(self.text) or _LABEL_ONLY.match(self.text))

    @property
    def is_bullet(self) -> bool:
        return bool(_BULLET.match(self.text))

    @property
    def marker(self) -> str | None:
        """The kind of list or heading marker the line starts with (①, 【, ＜, （１）, ・ …), if any."""
        first = self.text[:1]
        if "\u2460" <= first <= "\u2473":
            return "circled"
        return next((kind for kind, starts in MARKERS.items() if first and first in starts), None)

    @property
    def is_question(self) -> bool:
        """A question the document asks and answers below (a Q&A page's Q)."""
        return bool(_QUESTION_LINE.search(self.text))

    @property
    def is_noise(self) -> bool:
        """Page numbers, chart axes and bare numbers: never an answer on their own."""
        return bool(_NOISE.match(self.text)) or len(compact(self.text)) < 3


def units_of(chunk: Chunk, rank: int) -> list[Unit]:
    units: list[Unit] = []
    offset = 0
    for line in chunk.text.split("\n"):
        line_start = offset
        offset += len(line) + 1
        if not line.strip():
            continue
        pieces = _SENTENCE_END.split(line) if len(line) > MAX_UNIT_CHARS else [line]
        piece_start = line_start
        for piece in pieces:
            stripped = piece.strip()
            if stripped:
                lead = len(piece) - len(piece.lstrip())
                start = chunk.start + piece_start + lead
                units.append(Unit(chunk, rank, start, start + len(stripped), stripped))
            piece_start += len(piece)
    return _cells_with_labels(chunk, units)


def _cells_with_labels(chunk: Chunk, units: list[Unit]) -> list[Unit]:
    """Table cells that are only a number join the line before them (the row's label and its other numbers),
    so 「医師 / 6名 / 7.1％」 is read, scored and quoted as one row."""
    joined: list[Unit] = []
    for unit in units:
        previous = joined[-1] if joined else None
        between = chunk.text[previous.end - chunk.start : unit.start - chunk.start] if previous else ""
        if previous is not None and _VALUE_CELL.match(unit.text) and between.strip() == "" and "\n" in between:
            text = chunk.text[previous.start - chunk.start : unit.end - chunk.start]
            joined[-1] = Unit(chunk, unit.rank, previous.start, unit.end, text)
        else:
            joined.append(unit)
    return joined
