"""Rule-based extraction of record proposals (events, surveys, blocks) from a document's text.

``extract_proposals(document_id, text)`` reads the text as it is (full-width digits, PDF line breaks)
and returns :class:`Proposal` objects in the record-file schema (docs/records.md). Each proposal has
the exact source span it came from (``text[start:end] == proposal.quote``) and a confidence.

* ``values`` are the extracted fields. Every leaf value is checked against the quote (NFKC, spaces
  and line breaks ignored) and dropped when it is not there.
* ``context`` holds what comes from outside the quote: the event ``kind`` and ``title`` inferred
  from the nearest heading, and the block name of a label-then-values group (``blocks``/``name``),
  each with the span of the text it was taken from (``context_spans``).

Patterns: era/ISO dates (``records.dates``), time ranges, ``講師：``/``場所``/``参加者``/``回収数``/
``回収率`` labels, ``【日 時】``-style labels, Markdown tables, and the label-then-values layout of
PDF extraction (labels ``北ブロック / 日時・場所 / 講 師`` first, then ``： …`` values in the same order).
No LLM pass: this module is deterministic.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice, pairwise
from typing import Any, Literal

from knowledge.text import compact
from records.dates import RecordDateError, parse_date, parse_time_range
from records.reference import canonical_ward_name
from records.vocab import vocabulary

ProposalKind = Literal["event", "survey", "block"]

_D = r"[0-9０-９]"
_SP = r"[ \t\u3000]"
DATE_RE = re.compile(
    rf"(?:(?:令和|平成|昭和){_SP}*(?:元|{_D}{{1,2}}){_SP}*年{_SP}*{_D}{{1,2}}{_SP}*月{_SP}*{_D}{{1,2}}{_SP}*日"
    rf"|{_D}{{4}}{_SP}*年{_SP}*{_D}{{1,2}}{_SP}*月{_SP}*{_D}{{1,2}}{_SP}*日"
    rf"|{_D}{{4}}[-/.]{_D}{{1,2}}[-/.]{_D}{{1,2}}"
    rf"|(?<![A-Za-z])[RH]{_D}{{1,2}}[./]{_D}{{1,2}}[./]{_D}{{1,2}})"
    rf"(?:{_SP}*[（(]{_SP}*[月火水木金土日](?:曜日?)?{_SP}*[）)])?"
)
_TIME = rf"(?:(?:午前|午後){_SP}*)?{_D}{{1,2}}{_SP}*(?:[:：]{_SP}*{_D}{{2}}|時(?:{_SP}*{_D}{{1,2}}{_SP}*分|半)?)"
TIME_RANGE_RE = re.compile(rf"{_TIME}{_SP}*(?:[~〜～\-－–—]|から){_SP}*{_TIME}")
PART_RE = re.compile(rf"[（(]{_SP}*(第{_SP}*[0-9０-９一二三四五]{_SP}*部){_SP}*[）)]")
# A group may hold ・ (医療・介護関係者); a leading ・ separates it from the count before (27名・行政16名).
COUNT_RE = re.compile(rf"(?P<group>[^\s0-9０-９、，,。（()）：:/|]+?)?{_SP}*(?<![0-9０-９])(?P<n>{_D}+){_SP}*名")
RESPONSES_RE = re.compile(rf"回収数{_SP}*[】\]]?{_SP}*[:：]?{_SP}*(?P<n>{_D}+)")
RATE_RE = re.compile(rf"回収率{_SP}*[】\]]?{_SP}*[:：]?{_SP}*(?P<n>{_D}+(?:[.．]{_D}+)?){_SP}*[%％]")
NUMBERS_LINE_RE = re.compile(rf"^{_SP}*{_D}+(?:{_SP}+{_D}+)+{_SP}*$")
AXIS_LINE_RE = re.compile(r"^\s*(?:\d+%\s*)+$")
PAGE_NUMBER_RE = re.compile(rf"^{_SP}*{_D}{{1,3}}{_SP}*$")
HEADING_RE = re.compile(r"^\s*(?:#{1,6}\s+|取組み[0-9０-９]|[①-⑳]|[（(][0-9０-９][)）]|[0-9０-９]+[.．]\s)")
BRACKET_LABEL_RE = re.compile(rf"^{_SP}*【(?P<label>[^】]{{1,12}})】{_SP}*")
COLON_LABEL_RE = re.compile(
    rf"^{_SP}*[・･]?{_SP}*(?P<label>[^\s：:]{{1,4}}(?:{_SP}[^\s：:]{{1,3}}){{0,3}}){_SP}*[：:]{_SP}*"
)
INLINE_BLOCK_RE = re.compile(rf"(?P<name>[^\s：:、,]{{1,6}}ブロック){_SP}*[：:]{_SP}*(?P<wards>[^\n]+)")
TITLE_LINE_RE = re.compile(r"(?:研修会|説明会|報告会|連絡会|会議|講演会|セミナー)(?:の開催|の実施|を開催)?$")

_VOCAB = vocabulary()
FIELD_LABELS: dict[str, str] = _VOCAB.field_labels
LECTURER_TITLES = _VOCAB.lecturer_titles
HONORIFICS = _VOCAB.honorifics
EVENT_KIND_KEYWORDS = _VOCAB.event_kind_keywords


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class Proposal:
    """One proposed record: ``text[start:end]`` of its document is ``quote``."""

    document_id: str
    kind: ProposalKind
    start: int
    end: int
    quote: str
    confidence: float
    values: dict[str, Any]
    context: dict[str, Any] = field(default_factory=dict)
    context_spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    section: str = ""
    pattern: str = ""

    @property
    def event_date(self) -> str | None:
        """The event's date as written, or completed from the document (``context``) for 11月29日."""
        return self.values.get("date") or self.context.get("date")

    def record(self) -> dict[str, Any]:
        """The record-file form (without ``id``): context, then values, then provenance."""
        return {**self.context, **self.values, "section": self.section or "(unknown)", "quote": self.quote}


@dataclass(frozen=True)
class Line:
    index: int
    start: int
    end: int
    text: str

    @property
    def blank(self) -> bool:
        return not self.text.strip()


@dataclass(frozen=True)
class Piece:
    """A labelled stretch of text: ``field`` is a FIELD_LABELS value (or ``header``)."""

    field: str
    start: int
    end: int
    part: str | None = None


def split_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    offset = 0
    for index, raw in enumerate(text.splitlines(keepends=True)):
        body = raw.rstrip("\r\n")
        lines.append(Line(index, offset, offset + len(body), body))
        offset += len(raw)
    return lines


def _label_field(label: str) -> str | None:
    return FIELD_LABELS.get(compact(label))


# ---------------------------------------------------------------- value checks


def value_in_span(value: Any, quote: str) -> bool:
    """A scalar value is in the quote when its text is (NFKC; spaces and line breaks ignored)."""
    if isinstance(value, bool) or value is None:
        return False
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return bool(compact(text)) and compact(text) in compact(quote)


# The group of a head count the text gives no name (「38名が参加」): our word, so it is not looked for in the quote.
UNNAMED_GROUP = "参加者"


def keep_values_in_span(values: Any, quote: str, key: str = "") -> Any:
    """``values`` without the leaves that are not in ``quote`` (empty containers are dropped too)."""
    if isinstance(values, dict):
        kept = {k: keep_values_in_span(value, quote, k) for k, value in values.items()}
        return {k: value for k, value in kept.items() if value not in (None, [], {})}
    if isinstance(values, list):
        kept_items = [keep_values_in_span(item, quote, key) for item in values]
        return [item for item in kept_items if item not in (None, [], {})]
    if key == "group" and values == UNNAMED_GROUP:
        return values
    return values if value_in_span(values, quote) else None


def _participants_consistent(values: dict[str, Any]) -> dict[str, Any]:
    """Drop participant rows whose ``count`` was dropped, and ``subset_of`` naming a dropped group."""
    rows = [row for row in values.get("participants", []) if "group" in row and "count" in row]
    seen: set[str] = set()
    for row in rows:
        if row.get("subset_of") not in seen:
            row.pop("subset_of", None)
        seen.add(row["group"])
    if rows:
        values["participants"] = rows
    else:
        values.pop("participants", None)
    return values


# ---------------------------------------------------------------- field parsers


def find_dates(text: str, start: int = 0, end: int | None = None) -> Iterator[re.Match[str]]:
    """Full dates (era, Western, ISO, R5.9.19) that parse; a wrong weekday drops the match."""
    for match in DATE_RE.finditer(text, start, len(text) if end is None else end):
        try:
            parse_date(match[0])
        except RecordDateError:
            continue
        yield match


def find_time_ranges(text: str, start: int = 0, end: int | None = None) -> Iterator[re.Match[str]]:
    for match in TIME_RANGE_RE.finditer(text, start, len(text) if end is None else end):
        try:
            parse_time_range(match[0])
        except RecordDateError:
            continue
        yield match


def _split_embedded_title(tokens: list[str]) -> list[str]:
    """``こころの森クリニック院長阿部真理子`` (no spaces) → affiliation, title, name at the last title inside."""
    if not tokens:
        return tokens
    last = tokens[-1]
    found = [(last.rfind(title), title) for title in LECTURER_TITLES if 0 <= last.rfind(title) < len(last) - len(title)]
    if not found:
        return tokens
    at, title = max(found, key=lambda item: (item[0], len(item[1])))
    pieces = [last[:at], title, last[at + len(title) :]]
    return [*tokens[:-1], *(piece for piece in pieces if piece)]


def name_shaped(name: str) -> bool:
    """Whether a lecturer's name reads as a person's name (not ``看護師の佐藤花子`` or a whole affiliation)."""
    core = compact(name)
    return (
        2 <= len(core) <= 8
        and "の" not in core
        and not any(t in core for t in LECTURER_TITLES)
        and not re.search(r"[0-9（()）「」]", core)
    )


def parse_lecturer(value: str) -> dict[str, str]:
    """``医療法人 学縁会 おおさか往診クリニック 理事長 田村 学 先生`` → affiliation, title, name."""
    tokens = value.replace("\u3000", " ").split()
    if tokens and tokens[-1] in HONORIFICS:
        tokens.pop()
    elif tokens:
        for honorific in HONORIFICS:
            if tokens[-1].endswith(honorific) and len(tokens[-1]) > len(honorific):
                tokens[-1] = tokens[-1][: -len(honorific)]
                break
    if not tokens:
        return {}
    title_at = max((i for i, token in enumerate(tokens) if token in LECTURER_TITLES), default=None)
    if title_at is None:
        tokens = _split_embedded_title(tokens)
        title_at = max((i for i, token in enumerate(tokens) if token in LECTURER_TITLES), default=None)
    if title_at is not None and title_at < len(tokens) - 1:
        name_tokens, title, affiliation = tokens[title_at + 1 :], tokens[title_at], tokens[:title_at]
    else:
        two = len(tokens) >= 3 and all(len(t) <= 3 for t in tokens[-2:])
        name_tokens = tokens[-2:] if two else tokens[-1:]
        title, affiliation = None, tokens[: len(tokens) - len(name_tokens)]
    result = {"name": " ".join(name_tokens)}
    if title:
        result["title"] = title
    if affiliation:
        result["affiliation"] = " ".join(affiliation)
    return result


def group_name(raw: str | None) -> str:
    """The group of a head count as the report names it: ``当日は医師会等`` → 医師会等, ``…の計`` → 計,
    ``居宅介護支援事業所などから`` (not a group) or nothing → 参加者."""
    group = (raw or "").strip().lstrip("・･").removeprefix("参加者").strip()
    head, _, tail = group.rpartition("の")
    if len(head) >= 2 or (not head and tail):  # その他 stays whole
        group = tail
    if "は" in group[:-1]:
        group = group.rsplit("は", 1)[-1]
    total = next((word for word in _VOCAB.total_words if group.endswith(word)), None)
    if total:
        return total  # as written (計, 総勢), so that it stays in the quote; canonical_group reads it as 合計
    if not group or any(word in group for word in ("から", "など", "より")) or group[-1] in "がをにでともへ":
        return UNNAMED_GROUP
    return group


def canonical_group(group: str) -> str:
    """A participant group for comparison: the words for "in total" (計, 総勢, 合計 …) are all 合計."""
    return "合計" if group in _VOCAB.total_words else group


def _inside_brackets(text: str, offset: int) -> bool:
    before = text[:offset]
    return sum(before.count(c) for c in "（(") > sum(before.count(c) for c in ")）")


def parse_participants(text: str) -> list[dict[str, Any]]:
    """``区担当者43名（うち新任者30名）`` / ``（職種内訳：事務職24名、…)`` / ``62名（医療関係者21名、…）`` → participant
    rows; counts in brackets after a group are its breakdown; capacities (定員 200名) are not participants."""
    rows: list[dict[str, Any]] = []
    main: str | None = None
    for line in text.splitlines():
        for match in COUNT_RE.finditer(line):
            raw = (match["group"] or "").strip().lstrip("・･")
            if any(cue in raw for cue in _VOCAB.not_participant_cues):
                continue
            subset = raw.startswith("うち")
            group = group_name(raw.removeprefix("うち"))
            row: dict[str, Any] = {"group": group, "count": int(unicodedata.normalize("NFKC", match["n"]))}
            breakdown = "内訳" in line or _inside_brackets(line, match.start())
            total = canonical_group(group) == "合計"
            parent = main if (subset or breakdown) and not total else None
            if parent and parent != group:
                row["subset_of"] = parent
            elif not total:
                main = group
            rows.append(row)
    return rows


def parse_wards(text: str) -> list[str]:
    """Ward names of a ``北区、都島区、…`` list (empty unless every item is a ward)."""
    items = [item.strip(" 　：:") for item in re.split(r"[、，,・/／\s]+", text) if item.strip(" 　：:")]
    wards = [canonical_ward_name(item) for item in items]
    return [w for w in wards if w] if items and all(wards) else []


# ---------------------------------------------------------------- document structure


class Document:
    """The text, its lines, and the section heading and title candidates before each line."""

    def __init__(self, document_id: str, text: str) -> None:
        self.document_id = document_id
        self.text = text
        self.lines = split_lines(text)
        self.consumed: set[int] = set()
        self._starts = [line.start for line in self.lines]
        self._sections: list[str] | None = None

    def line_at(self, offset: int) -> Line:
        return self.lines[max(0, bisect_right(self._starts, offset) - 1)]

    def nonblank(self, start: int = 0, stop: int | None = None) -> Iterator[Line]:
        for line in self.lines[start:stop]:
            if not line.blank:
                yield line

    def section_before(self, index: int) -> str:
        """The heading path in force at line ``index``."""
        if self._sections is None:
            self._sections = self._heading_paths()
        return self._sections[min(index, len(self._sections) - 1)]

    def _heading_paths(self) -> list[str]:
        paths: list[str] = []
        path: list[str] = []
        for line in self.lines:
            paths.append(" > ".join(path))
            text = line.text.strip()
            if HEADING_RE.match(text):
                level = (
                    len(text) - len(text.lstrip("#"))
                    if text.startswith("#")
                    else (1 if text.startswith("取組み") else 2)
                )
                path = [*path[: level - 1], text.lstrip("# ").strip()]
            elif text.startswith("【") and text.endswith("】") and _label_field(text[1:-1]) is None:
                path = [*path[:2], text]
        return paths or [""]

    def title_before(self, index: int) -> tuple[str, int, int] | None:
        """The nearest preceding heading-like line naming an event: (title, start, end)."""
        for line in reversed(self.lines[:index]):
            text = line.text.strip()
            if not text or _label_field(text.strip("【】")) is not None:
                continue
            core = re.sub(r"^(?:#{1,6}\s+|[・･]\s*|[①-⑳]\s*)", "", text).strip("『』 　")
            core = re.sub(r"』?(?:の開催|の実施|を開催)$", "", core).strip("『』 　")
            if text.startswith("【") and text.endswith("】") and len(text) <= 30:
                core = text[1:-1].strip()
                if any(word in core for word in ("日時", "場所", "講師", "開催日", "内容")):
                    continue
            elif not (TITLE_LINE_RE.search(text) or text.startswith("#")):
                continue
            if core:
                offset = line.start + line.text.find(core)
                return core, offset, offset + len(core)
        return None


def event_kind(title: str) -> str:
    return next((kind for keyword, kind in EVENT_KIND_KEYWORDS if keyword in title), "other")


def _event_context(
    doc: Document, index: int, blocks: Sequence[tuple[str, int, int]] = ()
) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
    context: dict[str, Any] = {}
    spans: dict[str, tuple[int, int]] = {}
    title = doc.title_before(index)
    if title:
        context["title"], spans["title"] = title[0], (title[1], title[2])
    scope = " ".join(name for name, _, _ in blocks)
    context["kind"] = event_kind(f"{scope} {context.get('title', '')}")
    if blocks:
        context["blocks"] = [name for name, _, _ in blocks]
        spans["blocks"] = (blocks[0][1], blocks[-1][2])
    return context, spans


# ---------------------------------------------------------------- assembling events from labelled pieces


def _split_parts(doc: Document, piece: Piece) -> list[Piece]:
    """Split a piece at ``（第1部）`` markers; text before the first marker keeps the piece's part."""
    markers = list(PART_RE.finditer(doc.text, piece.start, piece.end))
    if not markers:
        return [piece]
    pieces = (
        [Piece(piece.field, piece.start, markers[0].start(), piece.part)] if markers[0].start() > piece.start else []
    )
    for marker, following in zip(markers, [*markers[1:], None], strict=True):
        end = following.start() if following else piece.end
        pieces.append(Piece(piece.field, marker.start(), end, compact(marker[1])))
    return pieces


def _inherit_parts(pieces: list[Piece]) -> list[Piece]:
    """A continuation line without a marker belongs to the part of the line before it (same field)."""
    result: list[Piece] = []
    for piece in pieces:
        previous = result[-1] if result else None
        if piece.part is None and previous and previous.field == piece.field and previous.part:
            piece = Piece(piece.field, piece.start, piece.end, previous.part)
        result.append(piece)
    return result


def _fields_from_pieces(doc: Document, pieces: list[Piece]) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    """Extracted values and the spans of the text they came from."""
    text = doc.text
    values: dict[str, Any] = {}
    used: list[tuple[int, int]] = []
    participant_texts: list[str] = []
    for piece in pieces:
        body = text[piece.start : piece.end]
        if piece.field in {"datetime", "datetime_venue", "time"}:
            date_match = next(find_dates(text, piece.start, piece.end), None)
            if date_match and "date" not in values and piece.field != "time":
                values["date"] = date_match[0]
                used.append(date_match.span())
            time_match = next(find_time_ranges(text, piece.start, piece.end), None)
            if time_match and "time" not in values:
                values["time"] = time_match[0]
                used.append(time_match.span())
            if piece.field == "datetime_venue" and (date_match or time_match):
                tail_from = max(m.end() for m in (date_match, time_match) if m)
                venue = text[tail_from : piece.end].strip(" 　：:、,")
                if venue and "venue" not in values:
                    values["venue"] = venue
                    used.append((piece.start, piece.end))
            if date_match or time_match:
                used.append((piece.start, piece.end))
        elif piece.field == "venue" and body.strip(" 　：:") and "venue" not in values:
            values["venue"] = body.strip(" 　：:")
            used.append((piece.start, piece.end))
        elif piece.field == "lecturer" and "lecturer" not in values:
            lecturer = parse_lecturer(body.strip(" 　：:"))
            if lecturer:
                values["lecturer"] = lecturer
                used.append((piece.start, piece.end))
        elif piece.field == "participants" and COUNT_RE.search(body):
            participant_texts.append(PART_RE.sub(" ", body))
            used.append((piece.start, piece.end))
        elif piece.field == "block" and body.strip(" 　：:").endswith("ブロック"):
            values.setdefault("blocks", []).append(body.strip(" 　：:"))
            used.append((piece.start, piece.end))
        elif piece.field in {"audience", "theme"} and piece.field not in values and body.strip(" 　：:"):
            values[piece.field] = body.strip(" 　：:『』「」")
            used.append((piece.start, piece.end))
    rows = parse_participants("\n".join(participant_texts))
    if rows:
        values["participants"] = rows
    return values, used


def _confidence(values: dict[str, Any], labelled: bool) -> float:
    score = 0.5 if "date" in values else 0.3
    score += 0.2 if "time" in values else 0.0
    score += 0.1 * sum(1 for key in ("venue", "lecturer", "participants") if key in values)
    score += 0.1 if labelled else 0.0
    return round(min(score, 0.95), 2)


def _make_proposal(
    doc: Document,
    kind: ProposalKind,
    spans: list[tuple[int, int]],
    values: dict[str, Any],
    confidence: float,
    *,
    context: dict[str, Any] | None = None,
    context_spans: dict[str, tuple[int, int]] | None = None,
    pattern: str,
    inferred: dict[str, Any] | None = None,
) -> Proposal | None:
    """``inferred``: context completed from the whole document rather than read in one span (the year of
    ``11月29日``); it is kept as given."""
    start, end = min(s for s, _ in spans), max(e for _, e in spans)
    start, end = _trim(doc.text, start, end)
    quote = doc.text[start:end]
    kept = keep_values_in_span(values, quote)
    if kind == "event":
        kept = _participants_consistent(kept)
        if "date" not in kept and not (inferred or {}).get("date"):
            return None
    context = dict(context or {})
    context_spans = dict(context_spans or {})
    for key, (c_start, c_end) in list(context_spans.items()):
        if not value_in_span(
            context[key] if not isinstance(context[key], list) else "".join(context[key]), doc.text[c_start:c_end]
        ):
            context.pop(key, None)
            context_spans.pop(key)
    if not kept and not inferred:
        return None
    context.update(inferred or {})
    section = doc.section_before(doc.line_at(start).index)
    return Proposal(
        doc.document_id, kind, start, end, quote, confidence, kept, context, context_spans, section, pattern
    )


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in " \t\u3000\r\n":
        start += 1
    while end > start and text[end - 1] in " \t\u3000\r\n":
        end -= 1
    return start, end


def events_from_pieces(
    doc: Document,
    pieces: list[Piece],
    index: int,
    *,
    labelled: bool,
    pattern: str,
    blocks: Sequence[tuple[str, int, int]] = (),
) -> list[Proposal]:
    """One event, or a parent and one event per part (第1部, 第2部) when the pieces are split in parts."""
    pieces = _inherit_parts([part for piece in pieces for part in _split_parts(doc, piece)])
    context, context_spans = _event_context(doc, index, blocks)
    part_names = list(dict.fromkeys(piece.part for piece in pieces if piece.part))
    common = [piece for piece in pieces if piece.part is None]
    groups: list[tuple[str | None, list[Piece]]] = [(None, pieces if len(part_names) < 2 else common)]
    if len(part_names) >= 2:
        groups += [(name, common + [p for p in pieces if p.part == name]) for name in part_names]
    proposals: list[Proposal] = []
    for part, group in groups:
        values, used = _fields_from_pieces(doc, group)
        if not used or "date" not in values:
            continue
        if part:
            values["part"] = part
        proposal = _make_proposal(
            doc, "event", used, values, _confidence(values, labelled),
            context=context, context_spans=context_spans, pattern=pattern,
        )  # fmt: skip
        if proposal:
            proposals.append(proposal)
    return proposals


# ---------------------------------------------------------------- pattern: label-then-values


def _label_kind(text: str) -> str | None:
    """``field`` for a known field label, ``header`` for a short group name, else None."""
    stripped = text.strip()
    if not stripped or stripped.startswith(("：", ":")) or "：" in stripped or ":" in stripped:
        return None
    if _label_field(stripped):
        return "field"
    if len(compact(stripped)) <= 10 and not re.search(r"[0-9０-９【】。、]", stripped):
        return "header"
    return None


def label_then_values(doc: Document) -> list[Proposal]:
    """Labels listed first (``北ブロック / 日時・場所 / 講 師`` …), then ``： value`` lines in order."""
    proposals: list[Proposal] = []
    lines = [line for line in doc.lines if not line.blank]
    i = 0
    while i < len(lines):
        labels: list[Line] = []
        j = i
        while j < len(lines) and _label_kind(lines[j].text):
            labels.append(lines[j])
            j += 1
        values: list[Line] = []
        while j < len(lines) and lines[j].text.lstrip(" 　").startswith(("：", ":")):
            values.append(lines[j])
            j += 1
        field_count = sum(1 for label in labels if _label_kind(label.text) == "field")
        if field_count >= 2 and len(values) >= 2:
            labels = labels[-len(values) :] if len(labels) > len(values) else labels
            if len(labels) == len(values):
                proposals.extend(_paired_groups(doc, labels, values))
                doc.consumed.update(line.index for line in values)
                i = j
                continue
        i = max(j, i + 1)
    return proposals


def _value_piece(line: Line, kind: str) -> Piece:
    offset = len(line.text) - len(line.text.lstrip(" 　：:"))
    return Piece(kind, line.start + offset, line.end)


def _paired_groups(doc: Document, labels: list[Line], values: list[Line]) -> list[Proposal]:
    proposals: list[Proposal] = []
    groups: list[list[tuple[Line, Line]]] = []
    for label, value in zip(labels, values, strict=True):
        if _label_kind(label.text) == "header" or not groups:
            groups.append([])
        groups[-1].append((label, value))
    for group in groups:
        header = group[0][0] if _label_kind(group[0][0].text) == "header" else None
        blocks: list[tuple[str, int, int]] = []
        pieces: list[Piece] = []
        for label, value in group:
            field_kind = _label_field(label.text)
            if field_kind:
                pieces.append(_value_piece(value, field_kind))
            elif header is not None and label is header:
                name = header.text.strip()
                name_start = header.start + header.text.find(name)
                if name.endswith("ブロック"):
                    blocks.append((name, name_start, name_start + len(name)))
                    block = _block_proposal(
                        doc, name, (name_start, name_start + len(name)), value, pattern="label_then_values"
                    )
                    if block:
                        proposals.append(block)
        proposals.extend(
            events_from_pieces(doc, pieces, labels[0].index, labelled=True, pattern="label_then_values", blocks=blocks)
        )
    return proposals


def _block_proposal(
    doc: Document, name: str, name_span: tuple[int, int] | None, value: Line, *, pattern: str
) -> Proposal | None:
    piece = _value_piece(value, "wards")
    wards = parse_wards(doc.text[piece.start : piece.end])
    if len(wards) < 2:
        return None
    context = {"name": name} if name_span else {}
    values: dict[str, Any] = {"wards": wards}
    if not name_span:
        values["name"] = name
    return _make_proposal(
        doc, "block", [(piece.start, piece.end)], values, 0.9,
        context=context, context_spans={"name": name_span} if name_span else {}, pattern=pattern,
    )  # fmt: skip


def inline_blocks(doc: Document) -> list[Proposal]:
    """``北ブロック：北区、都島区、…`` on one line."""
    proposals: list[Proposal] = []
    for line in doc.lines:
        match = INLINE_BLOCK_RE.search(line.text)
        if not match or line.index in doc.consumed:
            continue
        wards = parse_wards(match["wards"])
        if len(wards) >= 2:
            start = line.start + match.start()
            proposal = _make_proposal(
                doc, "block", [(start, line.start + match.end())], {"name": match["name"], "wards": wards}, 0.9,
                pattern="inline_block",
            )  # fmt: skip
            if proposal:
                proposals.append(proposal)
    return proposals


# ---------------------------------------------------------------- pattern: Markdown tables


def _cells(line: Line) -> list[tuple[int, int]]:
    """(start, end) of each cell of a ``| a | b |`` row, trimmed."""
    spans: list[tuple[int, int]] = []
    bars = [line.start + i for i, ch in enumerate(line.text) if ch == "|"]
    for left, right in pairwise(bars):
        spans.append((left + 1, right))
    return spans


def _table_rows(doc: Document) -> Iterator[list[Line]]:
    run: list[Line] = []
    for line in doc.lines:
        if line.text.strip().startswith("|") and line.text.strip().endswith("|"):
            run.append(line)
            continue
        if run:
            yield run
        run = []
    if run:
        yield run


def markdown_tables(doc: Document) -> list[Proposal]:
    """Key–value tables (``| 日時 | … |``) give one event; tables whose header row names fields give one per row."""
    proposals: list[Proposal] = []
    for rows in _table_rows(doc):
        body = [row for row in rows if not re.fullmatch(r"[\s|:\-]+", row.text)]
        if len(body) < 2:
            continue
        header = [_label_field(doc.text[s:e]) or "" for s, e in _cells(body[0])]
        if sum(1 for kind in header if kind) >= 2:
            for row in body[1:]:
                pieces = [Piece(kind, s, e) for kind, (s, e) in zip(header, _cells(row), strict=False) if kind]
                proposals.extend(events_from_pieces(doc, pieces, row.index, labelled=True, pattern="table_rows"))
        else:
            pieces = []
            for row in body:
                cells = _cells(row)
                kind = _label_field(doc.text[cells[0][0] : cells[0][1]]) if len(cells) >= 2 else None
                if kind:
                    pieces.append(Piece(kind, cells[1][0], cells[-1][1]))
            if pieces:
                proposals.extend(events_from_pieces(doc, pieces, rows[0].index, labelled=True, pattern="table_fields"))
        doc.consumed.update(row.index for row in rows)
    return proposals


# ---------------------------------------------------------------- pattern: dated regions with labels


def _line_label(line: Line) -> tuple[str, int] | None:
    """(field, offset of the value) for ``【日 時】 …`` / ``講師：…`` lines."""
    for regex in (BRACKET_LABEL_RE, COLON_LABEL_RE):
        match = regex.match(line.text)
        if match:
            field_kind = _label_field(match["label"])
            if field_kind:
                return field_kind, line.start + match.end()
            if regex is BRACKET_LABEL_RE:
                return "other", line.start + match.end()
    return None


def _continues(line: Line) -> bool:
    text = line.text.strip()
    return bool(PART_RE.match(text)) or text.startswith(("（", "(", "『", "～", "〜", "「"))


def _stops(line: Line) -> bool:
    text = line.text.strip()
    return bool(HEADING_RE.match(text) or PAGE_NUMBER_RE.match(text) or text.startswith("|"))


def dated_regions(doc: Document) -> list[Proposal]:
    """A line with a full date, and the labelled lines after it (``【場 所】``, ``講師：``, ``参加者`` …)."""
    proposals: list[Proposal] = []
    for line in doc.lines:
        if line.index in doc.consumed or line.blank or next(find_dates(doc.text, line.start, line.end), None) is None:
            continue
        pieces, first_index = _region_pieces(doc, line)
        labelled = any(piece.field not in {"datetime"} for piece in pieces) or _line_label(line) is not None
        proposals.extend(events_from_pieces(doc, pieces, first_index, labelled=labelled, pattern="dated_region"))
    return proposals


def _region_pieces(doc: Document, anchor: Line) -> tuple[list[Piece], int]:
    label = _line_label(anchor)
    current = label[0] if label and label[0] != "other" else "datetime"
    first_index = anchor.index
    previous = next((line for line in reversed(doc.lines[: anchor.index]) if not line.blank), None)
    if previous is not None and not label:
        prev_label = _line_label(previous)
        if prev_label and prev_label[1] >= previous.end and prev_label[0] == "datetime":
            first_index = previous.index
    value_start = label[1] if label else anchor.start
    pieces = [Piece(current, value_start, anchor.end)]
    doc.consumed.add(anchor.index)
    for line in islice(doc.nonblank(anchor.index + 1), 20):
        if _stops(line) or (line.index in doc.consumed):
            break
        if next(find_dates(doc.text, line.start, line.end), None) is not None and not _continues(line):
            break
        line_label = _line_label(line)
        if line_label:
            current = line_label[0]
            if line_label[1] < line.end:
                pieces.append(Piece(current, line_label[1], line.end))
        elif _continues(line):
            pieces.append(Piece(current, line.start, line.end))
        else:
            break
        doc.consumed.add(line.index)
    return [piece for piece in pieces if piece.field != "other"], first_index


# ---------------------------------------------------------------- pattern: surveys


@dataclass
class _Chart:
    start: int
    end: int
    question: str | None
    options: list[dict[str, Any]]


def _chart_at(doc: Document, numbers: Line) -> _Chart | None:
    """``24 14 2`` then option labels (and the question after them, or in a ``【…】`` line before)."""
    counts = [int(n) for n in unicodedata.normalize("NFKC", numbers.text).split()]
    groups: list[list[Line]] = [[]]
    end = numbers.end
    question: str | None = None
    for line in doc.lines[numbers.index + 1 : numbers.index + 40]:
        text = line.text.strip()
        if line.blank:
            if groups[-1]:
                groups.append([])
            continue
        if AXIS_LINE_RE.match(text):
            continue
        if (
            NUMBERS_LINE_RE.match(text)
            or text.startswith(("【", "・", "第"))
            or HEADING_RE.match(text)
            or len(text) > 25
        ):
            break
        groups[-1].append(line)
        end = line.end
        if text.endswith(("か", "？", "?")):
            question = "".join(item.text.strip() for item in groups[-1])
            groups[-1] = []
            break
    labels = [line.text.strip() for group in groups for line in group]
    if question is None:
        before = next((line for line in reversed(doc.lines[: numbers.index]) if not line.blank), None)
        if before is not None and before.text.strip().startswith("【") and before.text.strip().endswith("】"):
            question = before.text.strip()[1:-1]
            start = before.start
        else:
            return None
    else:
        start = numbers.start
    if not labels or len(counts) > len(labels) or len(labels) > 10:
        return None
    options = [{"label": label, **({"count": counts[i]} if i < len(counts) else {})} for i, label in enumerate(labels)]
    return _Chart(start, end, question, options)


def surveys(doc: Document) -> list[Proposal]:
    """``アンケート回収数40（回収率93％）`` lines, with the nearest charts' option counts."""
    anchors: list[tuple[Line, re.Match[str] | None, re.Match[str] | None]] = []
    for line in doc.lines:
        responses = RESPONSES_RE.search(line.text)
        rate = RATE_RE.search(line.text)
        if responses or rate:
            anchors.append((line, responses, rate))
    if not anchors:
        return []
    charts = [chart for line in doc.lines if NUMBERS_LINE_RE.match(line.text) and (chart := _chart_at(doc, line))]
    assigned: dict[int, list[_Chart]] = {i: [] for i in range(len(anchors))}
    for chart in charts:
        nearest = min(range(len(anchors)), key=lambda i: abs(doc.line_at(chart.start).index - anchors[i][0].index))
        if abs(doc.line_at(chart.start).index - anchors[nearest][0].index) <= 40:
            assigned[nearest].append(chart)
    proposals: list[Proposal] = []
    for i, (line, responses, rate) in enumerate(anchors):
        values: dict[str, Any] = {}
        cut = min(m.start() for m in (responses, rate) if m)
        heading = re.sub(r"[【\[(（]?\s*$", "", line.text[:cut]).strip(" 　")
        title = re.sub(r"アンケート$", "", heading).strip() or None
        if title and "アンケート" in title:
            values["title"] = title
        if responses:
            values["responses"] = int(unicodedata.normalize("NFKC", responses["n"]))
        if rate:
            values["response_rate"] = float(unicodedata.normalize("NFKC", rate["n"]))
        questions = [{"text": c.question, "options": c.options} for c in sorted(assigned[i], key=lambda c: c.start)]
        if questions:
            values["questions"] = questions
        spans = [(line.start, line.end)] + [(c.start, c.end) for c in assigned[i]]
        context = {} if "title" in values else {"title": "アンケート結果"}
        proposal = _make_proposal(
            doc, "survey", spans, values, 0.9 if responses and rate else 0.7, context=context, pattern="survey"
        )
        if proposal:
            proposals.append(proposal)
    return proposals


# ---------------------------------------------------------------- entry point


def extract_proposals(document_id: str, text: str) -> list[Proposal]:
    """All proposals for one document, in text order; each value is in its quote."""
    if not text.strip():
        return []
    doc = Document(document_id, text)
    # records.event_text builds on this module's parts, so it is imported here rather than at the top.
    from records.event_text import complete_events, layout_events

    found: list[Proposal] = []
    found += markdown_tables(doc)
    found += label_then_values(doc)
    found += inline_blocks(doc)
    found += layout_events(doc)
    found += dated_regions(doc)
    found += surveys(doc)
    return sorted(_unique(complete_events(doc, found)), key=lambda p: (p.start, p.end, p.kind))


def _unique(proposals: Iterable[Proposal]) -> list[Proposal]:
    seen: set[tuple[str, int, int, str]] = set()
    result: list[Proposal] = []
    for proposal in proposals:
        key = (proposal.kind, proposal.start, proposal.end, repr(proposal.values))
        if key not in seen:
            seen.add(key)
            result.append(proposal)
    return result
