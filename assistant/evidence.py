"""Evidence units: the lines and sentences of retrieved chunks, with exact document offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.types import Chunk
from knowledge.text import compact

# Lines longer than this are read sentence by sentence: an answer quotes the sentence that answers, not its
# whole paragraph (authored files write a paragraph on one line).
MAX_UNIT_CHARS = 60
_SENTENCE_END = re.compile(r"(?<=[。！？])")
_HEADING = re.compile(r"^\s*(?:【[^】]{1,30}】|＜[^＞]{1,30}＞|〈[^〉]{1,30}〉|<[^>]{1,30}>)\s*$")
_LABEL_ONLY = re.compile(r"^\s*\S{1,20}[：:]\s*$")
_BULLET = re.compile(r"^\s*(?:[・･•〇○●◎■□◆◇※]|[①-⑳]|（[0-9０-９]+）|\([0-9]+\)|[0-9０-９]+[.．)）])")
MARKERS = {"bracket": "【", "angle": "＜〈<", "paren": "（(", "bullet": "・･•", "circle": "〇○●◎"}
_NOISE = re.compile(r"^[\s0-9０-９%％.．,、\-–—~～]*$")


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
    return units
