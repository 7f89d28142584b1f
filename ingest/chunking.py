"""Structure-aware chunking of Japanese report text.

The text is read line by line. Heading lines (``取組み３ ...``, ``（２）...``, a standalone ``②
...``, ``【...】``, ``# ...``) move a heading stack, so every chunk knows its section path. Lines are
then packed into chunks of about ``target`` characters:

* a chunk starts at a heading whenever the current chunk already has ``min_chars``;
* a chunk never crosses into a section outside its own parent (a short section merges only with
  siblings or its own subsections);
* a section that fits in ``max_chars`` is kept whole; a longer one is cut at line ends;
* a line longer than ``max_chars`` is cut after 。！？, then after 、, then hard, as a last resort.

Offsets are exact: ``chunk.text == text[chunk.start:chunk.end]``; whitespace at the edges is
trimmed by moving offsets. Everything is linear in the length of the text.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ingest.parsers import PageSpan
from knowledge.types import Chunk

MAX_HEADING_CHARS = 50
MAX_CAPTION_CHARS = 25
_RUN_WINDOW = 2  # numbered lines within this many lines of each other form a list, not headings

_NUM = "0-9０-９"
_KANJI_NUM = "一二三四五六七八九十"
_CIRCLED = "\u2460-\u2473"  # ①..⑳
_MD_RE = re.compile(r"^(#{1,6})\s+(\S.*)$")
_TOP_RE = re.compile(rf"^(?:取組み?\s*[{_NUM}]+(?![{_NUM}])|第\s*[{_NUM}{_KANJI_NUM}]+\s*章)")
_SECTION_RE = re.compile(rf"^第\s*[{_NUM}{_KANJI_NUM}]+\s*節")
_NUMBERED_RE = re.compile(rf"^[{_NUM}]{{1,2}}[.．](?![{_NUM}])\s*\S")
_PAREN_RE = re.compile(rf"^[（(][{_NUM}]{{1,2}}[）)]")
_CIRCLED_RE = re.compile(rf"^[{_CIRCLED}]")
_PART_RE = re.compile(rf"^第\s*[{_NUM}{_KANJI_NUM}]+\s*部")
_BRACKET_RE = re.compile(r"^(?:【[^【】]+】|＜[^＜＞]+＞|〈[^〈〉]+〉|《[^《》]+》|\[[^\[\]]+\])$")
_LIST_ITEM_RE = re.compile(rf"^(?:[・･•●○〇◎■□◆◇\-*]|[{_CIRCLED}])")
_SENTENCE_END_RE = re.compile(r"[。！？!?][」』）)]*")
_CLAUSE_END_RE = re.compile(r"[、，,]")
_NO_CAPTION_END = tuple("。、，,：:")


@dataclass(frozen=True)
class _Line:
    start: int
    end: int  # exclusive; whitespace at both ends already trimmed
    kind: str | None  # heading kind, or None for body text


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    path: tuple[str, ...]  # section path in force for this unit
    heading_level: int | None  # set when the unit is a heading line


def chunk_document(
    document_id: str,
    text: str,
    pages: Sequence[PageSpan] = (),
    *,
    target: int = 400,
    max_chars: int = 600,
    min_chars: int = 200,
) -> list[Chunk]:
    """Cut ``text`` into chunks with exact offsets, section paths, pages and stable ids."""
    if not min_chars <= target <= max_chars:
        raise ValueError("need min_chars <= target <= max_chars")
    lines = _classify(text, _trimmed_lines(text))
    units = list(_units(text, lines, max_chars=max_chars, target=target))
    spans = _pack(units, target=target, max_chars=max_chars, min_chars=min_chars)
    return _make_chunks(document_id, text, units, spans, pages)


# --- lines and headings --------------------------------------------------------------------


def _trimmed_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every non-blank line, without surrounding whitespace."""
    out: list[tuple[int, int]] = []
    for match in re.finditer(r"[^\n]+", text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            out.append((start, end))
    return out


def _heading_kind(line: str) -> str | None:
    if _MD_RE.match(line):
        return "md"
    if len(line) > MAX_HEADING_CHARS or line.endswith("。"):
        return None
    for kind, pattern in (
        ("top", _TOP_RE),
        ("section", _SECTION_RE),
        ("numbered", _NUMBERED_RE),
        ("paren", _PAREN_RE),
        ("circled", _CIRCLED_RE),
        ("part", _PART_RE),
        ("bracket", _BRACKET_RE),
    ):
        if pattern.match(line):
            return None if kind == "part" and ("：" in line or ":" in line) else kind
    return None


def _numbering(line: str) -> str | None:
    """The list-numbering style a line starts with, whatever its length."""
    for kind, pattern in (("numbered", _NUMBERED_RE), ("circled", _CIRCLED_RE), ("part", _PART_RE)):
        if pattern.match(line):
            return kind
    return None


def _classify(text: str, spans: list[tuple[int, int]]) -> list[_Line]:
    """Decide which lines are headings; numbered lines that form a list stay body text."""
    raw = [text[start:end] for start, end in spans]
    kinds = [_heading_kind(line) for line in raw]
    numbering = [_numbering(line) for line in raw]
    kinds = [None if numbering[i] is not None and _in_run(numbering, i) else kind for i, kind in enumerate(kinds)]
    return [
        _Line(start, end, "caption" if kind is None and _is_caption(text, raw, kinds, spans, i) else kind)
        for i, ((start, end), kind) in enumerate(zip(spans, kinds, strict=True))
    ]


def _in_run(kinds: list[str | None], i: int) -> bool:
    neighbours = kinds[max(0, i - _RUN_WINDOW) : i] + kinds[i + 1 : i + 1 + _RUN_WINDOW]
    return kinds[i] in neighbours


def _is_caption(text: str, raw: list[str], kinds: list[str | None], spans: list[tuple[int, int]], i: int) -> bool:
    """A short title line after a blank line, directly introducing a list (e.g. 令和５年度の取組み)."""
    line = raw[i]
    if (
        len(line) > MAX_CAPTION_CHARS
        or i + 1 >= len(raw)
        or line.endswith(_NO_CAPTION_END)
        or "：" in line
        or _LIST_ITEM_RE.match(line)
        or line[0].isdigit()
    ):
        return False
    after_blank = i == 0 or "\n\n" in text[spans[i - 1][1] : spans[i][0]].replace(" ", "")
    return after_blank and bool(_LIST_ITEM_RE.match(raw[i + 1])) and kinds[i + 1] is None


_LEVELS = {"top": 1, "section": 2, "numbered": 2, "paren": 3, "circled": 4, "part": 5, "bracket": 5, "caption": 5}


def _level_and_title(kind: str, line: str) -> tuple[int, str]:
    if kind == "md":
        match = _MD_RE.match(line)
        assert match is not None
        return min(len(match.group(1)), 5), match.group(2).strip()
    return _LEVELS[kind], line


# --- units: lines, or pieces of over-long lines ---------------------------------------------


def _units(text: str, lines: list[_Line], *, max_chars: int, target: int) -> Iterator[_Unit]:
    stack: list[tuple[int, str]] = []
    for line in lines:
        level: int | None = None
        if line.kind is not None:
            level, title = _level_and_title(line.kind, text[line.start : line.end])
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
        path = tuple(title for _, title in stack)
        if line.end - line.start <= max_chars:
            yield _Unit(line.start, line.end, path, level)
            continue
        for start, end in _split_long(text, line.start, line.end, max_chars=max_chars, target=target):
            yield _Unit(start, end, path, None)


def _split_long(text: str, start: int, end: int, *, max_chars: int, target: int) -> Iterator[tuple[int, int]]:
    """Cut one over-long line after sentence ends, then clause ends, then hard at ``target``."""
    for sentence in _cut_after(text, start, end, _SENTENCE_END_RE):
        if sentence[1] - sentence[0] <= max_chars:
            yield sentence
            continue
        for clause in _cut_after(text, *sentence, _CLAUSE_END_RE):
            if clause[1] - clause[0] <= max_chars:
                yield clause
                continue
            for hard in range(clause[0], clause[1], target):
                yield from _trim(text, hard, min(hard + target, clause[1]))


def _cut_after(text: str, start: int, end: int, pattern: re.Pattern[str]) -> Iterator[tuple[int, int]]:
    position = start
    for match in pattern.finditer(text, start, end):
        yield from _trim(text, position, match.end())
        position = match.end()
    yield from _trim(text, position, end)


def _trim(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end


# --- packing units into chunks ---------------------------------------------------------------


def _mergeable(anchor: tuple[str, ...], path: tuple[str, ...]) -> bool:
    """May a chunk that began in section ``anchor`` continue into section ``path``?"""
    if not anchor:
        return not path  # text before the first heading stays on its own
    if path[: len(anchor)] == anchor:
        return True  # a subsection of the anchor
    return len(anchor) >= 2 and path[: len(anchor) - 1] == anchor[:-1]  # within the same parent


def _section_ends(units: list[_Unit]) -> list[int]:
    """For each unit, the end offset of the last unit before the next heading."""
    ends = [0] * len(units)
    current = units[-1].end if units else 0
    for i in range(len(units) - 1, -1, -1):
        ends[i] = current
        if units[i].heading_level is not None and i > 0:
            current = units[i - 1].end
    return ends


def _pack(units: list[_Unit], *, target: int, max_chars: int, min_chars: int) -> list[tuple[int, int]]:
    """Group consecutive units into chunks; returns [first_unit, last_unit] index pairs."""
    if not units:
        return []
    section_end = _section_ends(units)
    groups: list[tuple[int, int]] = []
    first = 0
    has_body = units[0].heading_level is None
    for i in range(1, len(units)):
        if _should_cut(units, first, i, section_end, has_body, target=target, max_chars=max_chars, min_chars=min_chars):
            groups.append((first, i - 1))
            first = i
            has_body = False
        has_body = has_body or units[i].heading_level is None
    groups.append((first, len(units) - 1))
    return groups


def _should_cut(
    units: list[_Unit],
    first: int,
    i: int,
    section_end: list[int],
    has_body: bool,
    *,
    target: int,
    max_chars: int,
    min_chars: int,
) -> bool:
    unit = units[i]
    size = units[i - 1].end - units[first].start
    span = section_end[i] - units[first].start
    if unit.end - units[first].start > max_chars:
        return True
    if unit.heading_level is not None:
        if size >= min_chars or not _mergeable(units[first].path, unit.path):
            return True
        return has_body and span > max_chars  # merge a short section only with one that fits whole

    if span <= max_chars:
        return False  # the rest of the section fits in this chunk
    pieces = -(-span // target)
    return size >= max(min_chars, span // pieces)  # even pieces, no tiny tail


# --- chunks ----------------------------------------------------------------------------------


def _common_prefix(paths: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    prefix = paths[0]
    for path in paths[1:]:
        n = 0
        while n < min(len(prefix), len(path)) and prefix[n] == path[n]:
            n += 1
        prefix = prefix[:n]
    return prefix


def _section_path(units: Sequence[_Unit]) -> tuple[str, ...]:
    """The deepest section holding all of the chunk's body text (leading ancestor headings aside)."""
    body = [unit.path for unit in units if unit.heading_level is None]
    return _common_prefix(body or [unit.path for unit in units])


def _page_for(offset: int, pages: Sequence[PageSpan], starts: list[int]) -> int | None:
    index = bisect.bisect_right(starts, offset) - 1
    if index >= 0 and offset < pages[index].end:
        return pages[index].page_no
    return None


def chunk_id_for(document_id: str, section: str, text: str, occurrence: int) -> str:
    """Stable for the same passage in the same section, wherever it moves in the document."""
    key = "\x00".join((document_id, section, text, str(occurrence)))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _make_chunks(
    document_id: str,
    text: str,
    units: list[_Unit],
    groups: list[tuple[int, int]],
    pages: Sequence[PageSpan],
) -> list[Chunk]:
    ordered_pages = sorted(pages, key=lambda span: span.start)
    page_starts = [span.start for span in ordered_pages]
    seen: Counter[tuple[str, str]] = Counter()
    chunks: list[Chunk] = []
    for ordinal, (first, last) in enumerate(groups):
        start, end = units[first].start, units[last].end
        section_path = _section_path(units[first : last + 1])
        chunk_text = text[start:end]
        section = " > ".join(section_path)
        occurrence = seen[(section, chunk_text)]
        seen[(section, chunk_text)] += 1
        page = _page_for(start, ordered_pages, page_starts)
        metadata: dict[str, str | int | float | bool] = {
            "document_id": document_id,
            "section": section,
            "ordinal": ordinal,
        }
        if page is not None:
            metadata["page"] = page
        chunks.append(
            Chunk(
                chunk_id=chunk_id_for(document_id, section, chunk_text, occurrence),
                document_id=document_id,
                text=chunk_text,
                start=start,
                end=end,
                section_path=section_path,
                page=page,
                ordinal=ordinal,
                metadata=metadata,
            )
        )
    return chunks
