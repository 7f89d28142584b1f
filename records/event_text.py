"""Events in the layouts other towns and wards write: label lines of any style and event sentences in prose.

``layout_events(doc)`` reads what the sample's patterns (``records.extraction``) leave: label lines such as
``■日時　…`` / ``１　場所　…`` / ``開催日：… 会場：…`` / ``【参加者】…`` and prose such as
「12月8日(金)、亘理町悠里館を会場に、…を開催しました。講師に…氏を迎え、…計141名の参加がありました。」.

``complete_events(doc, proposals)`` then gives every event proposal what a record needs and a reviewer
should not have to type: a title (the nearest heading naming an event, else the event sentence), the kind,
the area the document is about (its title's first word: 亘理町, 鶴見区), and the year of a month-day date
(from the document's fiscal year, else its publication date; marked as inferred). It drops dates that are
not events: page updates, publication dates, deadlines and laws' history (``not_event_cues``), and a
date alone — a proposal needs a date plus a title, venue, lecturer or head count.

Words and cues come from ``records/extraction_vocab.yaml``. Every value stays inside the proposal's quote;
what comes from outside it (title, area, the completed date) is context, with the span it was read from.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from records import ner
from records.dates import RecordDateError, parse_date, parse_fiscal_year
from records.extraction import (
    DATE_RE,
    HEADING_RE,
    Document,
    Line,
    Proposal,
    _confidence,
    _label_field,
    _make_proposal,
    find_dates,
    find_time_ranges,
    name_shaped,
    parse_lecturer,
    parse_participants,
)
from records.vocab import vocabulary

VOCAB = vocabulary()
_D = r"[0-9０-９]"
_SP = r"[ \t\u3000]"
MONTH_DAY_RE = re.compile(
    rf"(?<![0-9０-９年./／])(?P<m>{_D}{{1,2}}){_SP}*月{_SP}*(?P<d>{_D}{{1,2}}){_SP}*日"
    rf"(?:{_SP}*[（(]{_SP}*(?P<wd>[月火水木金土日])(?:曜日?)?{_SP}*[）)])?"
)
FISCAL_YEAR_RE = re.compile(rf"(?:令和|平成){_SP}*(?:元|{_D}{{1,2}}){_SP}*年度|{_D}{{4}}{_SP}*年度")
# An optional bullet or number, then a label (bracketed, or up to 8 characters), then ：/ spaces / 】.
LABEL_LINE_RE = re.compile(
    rf"^{_SP}*(?:[■◆●○・･◇□▼▶◎\-－*]|{_D}{{1,2}}(?:{_SP}+|[.．、)）])|[（(]{_D}{{1,2}}[)）]|[①-⑳])?{_SP}*"
    rf"(?:【(?P<bracket>[^】]{{1,12}})】|(?P<label>[^\s：:【】「」。、]{{1,8}}?)(?:{_SP}*[：:]|{_SP}+|$))"
    rf"{_SP}*(?P<value>.*)$"
)
SENTENCE_END = "。"
# What follows an event's name in a heading: 「…研修会のご案内と報告」「…講演会のお知らせ」「…研修会を開催しました」
TITLE_TAIL_RE = re.compile(
    r"(?:[\s　]*[のを]?(?:ご案内|お知らせ|開催報告|実施報告|開催結果|実施結果|結果|報告|開催しました|開きました|実施しました|実施|開催|について)と?)+$"
)
BULLETS = "・･■◆●○◇□▼▶◎※-－*"
WINDOW_BEFORE, WINDOW_AFTER = 15, 8  # characters around a date searched for not-event cues
LOOKAHEAD_LINES = 4  # lines after an event searched for its head count (「当日は町民72名の参加…」)


@dataclass(frozen=True)
class DateHit:
    start: int
    end: int
    value: date
    inferred: bool  # the year was completed from the document


@dataclass(frozen=True)
class Field:
    name: str  # a FIELD_LABELS value
    start: int
    end: int


# ---------------------------------------------------------------- the document's year and area


@dataclass(frozen=True)
class YearHint:
    fiscal_year: int | None
    published: date | None

    def resolve(self, month: int, day: int) -> date | None:
        try:
            if self.fiscal_year is not None:
                return date(self.fiscal_year if month >= 4 else self.fiscal_year + 1, month, day)
            if (published := self.published) is not None:
                candidates = [date(y, month, day) for y in (published.year - 1, published.year, published.year + 1)]
                return min(candidates, key=lambda d: abs((d - published).days))
        except ValueError:
            return None
        return None


def year_hint(doc: Document) -> YearHint:
    """The first fiscal year the document names (令和6年度), and its publication date (更新日・掲載日…)."""
    fiscal = None
    if match := FISCAL_YEAR_RE.search(doc.text):
        try:
            fiscal = parse_fiscal_year(match[0])
        except RecordDateError:
            fiscal = None
    published = None
    for match in find_dates(doc.text):
        if _not_event_date(doc, match.start(), match.end()):
            published = parse_date(match[0])
            break
    return YearHint(fiscal, published)


def document_area(doc: Document) -> tuple[str, int, int] | None:
    """The municipality or ward the document is about: the first word of its first line (亘理町, 鶴見区)."""
    first = next(doc.nonblank(), None)
    if first is None:
        return None
    suffixes = "".join(VOCAB.area_suffixes)
    match = re.match(rf"^[#\s　]*(?P<area>[^\s　0-9０-９、。「」（()）・]{{1,8}}?[{suffixes}])(?:[\s　]|$)", first.text)
    if not match:
        return None
    return match["area"], first.start + match.start("area"), first.start + match.end("area")


# ---------------------------------------------------------------- dates that are events


def _not_event_date(doc: Document, start: int, end: int) -> bool:
    """A date next to 更新日 / 掲載 / 締切 / までに / 施行 … (same line, same sentence before it)."""
    line = doc.line_at(start)
    before = doc.text[max(line.start, start - WINDOW_BEFORE) : start].rsplit(SENTENCE_END, 1)[-1]
    after = doc.text[end : min(line.end, end + WINDOW_AFTER)]
    return any(cue in before or cue in after for cue in VOCAB.not_event_cues)


def event_dates(doc: Document, start: int, end: int, hint: YearHint) -> list[DateHit]:
    """Full dates and month-day dates (year completed from ``hint``) in text[start:end] that may be events."""
    hits: list[DateHit] = []
    for match in find_dates(doc.text, start, end):
        if not _not_event_date(doc, match.start(), match.end()):
            hits.append(DateHit(match.start(), match.end(), parse_date(match[0]), inferred=False))
    full = [(m.start(), m.end()) for m in DATE_RE.finditer(doc.text, start, end)]
    for match in MONTH_DAY_RE.finditer(doc.text, start, end):
        if any(s <= match.start() < e for s, e in full) or _not_event_date(doc, match.start(), match.end()):
            continue
        value = hint.resolve(
            int(unicodedata.normalize("NFKC", match["m"])), int(unicodedata.normalize("NFKC", match["d"]))
        )
        weekday = match["wd"]
        if value is None or (weekday and "月火水木金土日"[value.weekday()] != weekday):
            continue
        hits.append(DateHit(match.start(), match.end(), value, inferred=True))
    return sorted(hits, key=lambda hit: hit.start)


# ---------------------------------------------------------------- label lines


def label_fields(line: Line) -> list[Field] | None:
    """The labelled values of a line (several when ``開催日：… 会場：…``), or None when it is no label line.
    Unknown labels give an ``other`` field (``報告者：…``, ``【第1部】…``)."""
    match = LABEL_LINE_RE.match(line.text)
    if not match:
        return None
    label = match["bracket"] or match["label"] or ""
    field_name = _label_field(label)
    colon = match["bracket"] is not None or bool(
        re.search(r"[：:]", line.text[match.start("label") : match.start("value")] if match["label"] else "")
    )
    if field_name is None and not colon:
        return None
    fields: list[Field] = []
    value_start = line.start + match.start("value")
    current = field_name or "other"
    # A second ``label：`` inside the value starts another field (開催日：…　会場：…).
    for inner in re.finditer(rf"{_SP}+(?P<label>[^\s：:]{{1,6}}){_SP}*[：:]{_SP}*", match["value"]):
        inner_field = _label_field(inner["label"])
        if inner_field is None:
            continue
        fields.append(Field(current, value_start, line.start + match.start("value") + inner.start()))
        current, value_start = inner_field, line.start + match.start("value") + inner.end()
    fields.append(Field(current, value_start, line.end))
    return fields


def _continues_block(line: Line) -> bool:
    text = line.text
    return text[:1] in (" ", "\u3000", "\t", "（", "(", "「", "【")


def label_block(doc: Document, anchor: Line) -> tuple[list[Line], list[Field]]:
    """The label lines around a dated label line (stopping at a blank line or another dated label line)."""
    lines = [anchor]
    fields = list(label_fields(anchor) or [])
    for line in doc.lines[anchor.index + 1 :]:
        if line.blank or line.index in doc.consumed:
            break
        line_fields = label_fields(line)
        if line_fields is None and not _continues_block(line):
            break
        if (
            line_fields
            and any(f.name in ("datetime", "datetime_venue") for f in line_fields)
            and next(find_dates(doc.text, line.start, line.end), None)
        ):
            break
        lines.append(line)
        fields += line_fields or []
    for line in reversed(doc.lines[: anchor.index]):
        line_fields = label_fields(line)
        if line.blank or line.index in doc.consumed or not line_fields or all(f.name == "other" for f in line_fields):
            break
        lines.insert(0, line)
        fields = line_fields + fields
    return lines, fields


# ---------------------------------------------------------------- sentences


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int


def paragraph_sentences(doc: Document, first: Line) -> list[Sentence]:
    """The sentences of the paragraph starting at ``first`` (a bulleted line is a paragraph of its own)."""
    lines = [first]
    for line in doc.lines[first.index + 1 :]:
        if line.blank or line.index in doc.consumed or line.text.lstrip()[:1] in BULLETS or label_fields(line):
            break
        lines.append(line)
    start, end = first.start, lines[-1].end
    sentences: list[Sentence] = []
    cursor = start
    for match in re.finditer(r"。|\n", doc.text[start:end]):
        stop = start + match.end()
        if doc.text[cursor:stop].strip():
            sentences.append(Sentence(cursor, stop))
        cursor = stop
    if doc.text[cursor:end].strip():
        sentences.append(Sentence(cursor, end))
    return sentences


def _strip_span(text: str, start: int, end: int, chars: str = " \t\u3000、，,。：:「」『』") -> tuple[int, int]:
    while start < end and text[start] in chars:
        start += 1
    while end > start and text[end - 1] in chars:
        end -= 1
    return start, end


def prose_venue(doc: Document, start: int, end: int, after: int) -> tuple[int, int] | None:
    """「Xを会場に」「会場はX」「Xにて」「Xで開催」 in text[start:end]; X starts after ``after`` (the date/time)."""
    text = doc.text
    for cue in VOCAB.venue_before_cues:
        at = text.find(cue, start, end)
        if at >= 0:
            stop = next((i for i in range(at + len(cue), end) if text[i] in "、。\n（("), end)
            span = _strip_span(text, at + len(cue), stop)
            if span[1] > span[0]:
                return span
    for cue in VOCAB.venue_after_cues:
        for found in re.finditer(re.escape(cue), text[after:end]):
            before = _venue_before(doc, after, after + found.start(), needs_place=cue.startswith("で"))
            if before:
                return before
    return None


def _venue_before(doc: Document, after: int, at: int, *, needs_place: bool) -> tuple[int, int] | None:
    """The venue name just before a cue at ``at`` (back to a comma, bracket or the date)."""
    text = doc.text
    begin = max(max((text.rfind(ch, after, at) for ch in "、。「」\n"), default=-1) + 1, after)
    s, e = _strip_span(text, begin, at)
    while s < e and text[s] in "にはからまで":  # 「…（木）に富谷市…」「…から、…」
        s += 1
    name = text[s:e]
    if e > s and len(name) <= 40 and (not needs_place or any(name.endswith(x) for x in VOCAB.place_suffixes)):
        return s, e
    return None


def prose_lecturer(doc: Document, start: int, end: int) -> tuple[int, int] | None:
    """「講師にXを迎え」「講師はXさん」 → the span of X."""
    text = doc.text
    for opening, closing in VOCAB.lecturer_cues:
        at = text.find(opening, start, end)
        if at < 0:
            continue
        stop = text.find(closing, at + len(opening), end) if closing != SENTENCE_END else end
        if stop < 0:
            continue
        honorific = min(
            (i + len(h) for h in VOCAB.honorifics if (i := text.find(h, at + len(opening), stop)) >= 0), default=stop
        )
        s, e = _strip_span(text, at + len(opening), honorific)  # 「講師は … 先生、…」 ends at the honorific
        if e > s and len(text[s:e]) <= 60:
            return s, e
    return None


def _participation(doc: Document, sentence: Sentence) -> bool:
    body = doc.text[sentence.start : sentence.end]
    return any(cue in body for cue in VOCAB.participation_cues) and re.search(rf"{_D}+{_SP}*名", body) is not None


# ---------------------------------------------------------------- units → proposals


@dataclass
class Unit:
    date: DateHit
    spans: list[tuple[int, int]]
    values: dict[str, Any]
    labelled: bool
    last_line: int


def lecturer_of(text: str) -> dict[str, str]:
    """The rules' reading of a lecturer text; when the name they find is not name-shaped (「看護師の佐藤花子」),
    the last person's name GiNZA finds in the text (records.ner, loaded on first use) replaces it."""
    lecturer = parse_lecturer(text)
    if not lecturer or name_shaped(lecturer["name"]):
        return lecturer
    try:
        span = ner.person_span(text)
    except ner.NerUnavailable:
        return lecturer
    if span is None:
        return lecturer
    before = text[: span[0]].strip(" \u3000のは")
    result = {"name": text[span[0] : span[1]]}
    title = max((t for t in VOCAB.lecturer_titles if before.endswith(t)), key=len, default=None)
    if title:
        result["title"] = title
        before = before[: -len(title)].strip(" \u3000の")
    if before:
        result["affiliation"] = before
    return result


def _count_rows(doc: Document, start: int, end: int) -> list[dict[str, Any]]:
    return parse_participants(doc.text[start:end])


def _unit_from_block(doc: Document, hit: DateHit, lines: list[Line], fields: list[Field]) -> Unit:
    text = doc.text
    values: dict[str, Any] = {}
    spans: list[tuple[int, int]] = [(hit.start, hit.end)]
    if not hit.inferred:
        values["date"] = text[hit.start : hit.end]
    for field in fields:
        body = text[field.start : field.end].strip(" \u3000：:")
        if not body:
            continue
        if field.name in ("datetime", "datetime_venue", "time"):
            time_match = next(find_time_ranges(text, field.start, field.end), None)
            if time_match and "time" not in values:
                values["time"] = time_match[0]
                spans.append(time_match.span())
            if field.name == "datetime_venue":
                tail = max(
                    [m.end() for m in (time_match,) if m]
                    + [hit.end if field.start <= hit.start < field.end else field.start]
                )
                s, e = _strip_span(text, tail, field.end)
                if e > s and "venue" not in values:
                    values["venue"] = text[s:e]
                    spans.append((s, e))
        elif field.name == "venue" and "venue" not in values:
            values["venue"] = body
            spans.append((field.start, field.end))
        elif field.name == "lecturer" and body[:1] in "「『":
            values.setdefault("theme", body.strip("「」『』"))
            spans.append((field.start, field.end))
        elif field.name == "lecturer" and "lecturer" not in values:
            lecturer = lecturer_of(body)
            if lecturer:
                values["lecturer"] = lecturer
                spans.append((field.start, field.end))
        elif field.name == "participants":
            rows = _count_rows(doc, field.start, field.end)
            if rows:
                values.setdefault("participants", []).extend(rows)
                spans.append((field.start, field.end))
        elif field.name in ("theme", "audience") and field.name not in values:
            values[field.name] = body.strip("「」『』")
            spans.append((field.start, field.end))
    return Unit(hit, spans, values, labelled=True, last_line=lines[-1].index)


def _unit_from_sentences(doc: Document, hit: DateHit, sentences: list[Sentence]) -> Unit:
    text = doc.text
    first = sentences[0]
    values: dict[str, Any] = {}
    spans: list[tuple[int, int]] = [(hit.start, hit.end)]
    if not hit.inferred:
        values["date"] = text[hit.start : hit.end]
    time_match = next(find_time_ranges(text, hit.end, first.end), None)
    after = hit.end
    if time_match and time_match.start() - hit.end <= 6:
        values["time"] = time_match[0]
        spans.append(time_match.span())
        after = time_match.end()
    for sentence in sentences:
        if "venue" not in values and (
            venue := prose_venue(doc, sentence.start, sentence.end, after if sentence is first else sentence.start)
        ):
            values["venue"] = text[venue[0] : venue[1]]
            spans.append(venue)
        if "lecturer" not in values and (span := prose_lecturer(doc, sentence.start, sentence.end)):
            lecturer = lecturer_of(text[span[0] : span[1]])
            if lecturer:
                values["lecturer"] = lecturer
                spans.append(span)
        if "participants" not in values and _participation(doc, sentence):
            rows = _count_rows(doc, sentence.start, sentence.end)
            if rows:
                values["participants"] = rows
                spans.append((sentence.start, sentence.end))
    return Unit(hit, spans, values, labelled=False, last_line=doc.line_at(sentences[-1].end - 1).index)


def _line_sentences(doc: Document, line: Line) -> list[Sentence]:
    sentences: list[Sentence] = []
    cursor = line.start
    for match in re.finditer(SENTENCE_END, line.text):
        sentences.append(Sentence(cursor, line.start + match.end()))
        cursor = line.start + match.end()
    if doc.text[cursor : line.end].strip():
        sentences.append(Sentence(cursor, line.end))
    return sentences


def _attach_counts(doc: Document, unit: Unit) -> None:
    """A head count in the lines just after an event (「当日は町民72名の参加がありました。」) is the event's;
    the search stops at a heading, a label line or another date."""
    if "participants" in unit.values:
        return
    for line in list(doc.nonblank(unit.last_line + 1))[:LOOKAHEAD_LINES]:
        text = line.text.strip()
        heading = HEADING_RE.match(text) or (SENTENCE_END not in text and len(text) <= 40)
        if (
            line.index in doc.consumed
            or heading
            or label_fields(line)
            or next(find_dates(doc.text, line.start, line.end), None)
        ):
            return
        for sentence in _line_sentences(doc, line):
            if _participation(doc, sentence):
                rows = _count_rows(doc, sentence.start, sentence.end)
                if rows:
                    unit.values["participants"] = rows
                    unit.spans.append((sentence.start, sentence.end))
                    return


def _bracket_labelled(doc: Document, line: Line) -> bool:
    """``【日 時】 …`` on this line, or a bare ``【日 時】`` on the line before."""
    previous = next((prev for prev in reversed(doc.lines[: line.index]) if not prev.blank), None)
    bare_label = previous is not None and re.fullmatch(rf"{_SP}*【[^】]{{1,12}}】{_SP}*", previous.text) is not None
    return line.text.lstrip(" \u3000").startswith("【") or bare_label


def _units(doc: Document, hint: YearHint) -> Iterator[tuple[Unit, list[int]]]:
    """Event units and the lines they take; 【日 時】-style lines are left to ``records.extraction``'s
    dated regions, which read the sample's blank-line-separated label layout."""
    index = 0
    while index < len(doc.lines):
        line = doc.lines[index]
        index += 1
        if line.blank or line.index in doc.consumed or _bracket_labelled(doc, line):
            continue
        hits = event_dates(doc, line.start, line.end, hint)
        if not hits:
            continue
        fields = label_fields(line)
        if fields and any(f.name in ("datetime", "datetime_venue") for f in fields):
            lines, block_fields = label_block(doc, line)
            index = lines[-1].index + 1
            yield _unit_from_block(doc, hits[0], lines, block_fields), [member.index for member in lines]
            continue
        sentences = paragraph_sentences(doc, line)
        last = doc.line_at(sentences[-1].end - 1).index
        index = last + 1
        dated = [(i, hit) for i, s in enumerate(sentences) for hit in event_dates(doc, s.start, s.end, hint)[:1]]
        for n, (i, hit) in enumerate(dated):
            stop = dated[n + 1][0] if n + 1 < len(dated) else len(sentences)
            yield _unit_from_sentences(doc, hit, sentences[i:stop]), list(range(line.index, last + 1))


def layout_events(doc: Document) -> list[Proposal]:
    """Event proposals from free label lines and prose (lines the sample's patterns did not take). Lines
    are taken only by a proposal that reads as an event, so the sample's patterns still see the rest."""
    hint = year_hint(doc)
    proposals: list[Proposal] = []
    for unit, line_indices in _units(doc, hint):
        _attach_counts(doc, unit)
        inferred: dict[str, Any] = {}
        if unit.date.inferred:  # 11月29日: the year comes from the document (fiscal year or publication date)
            written = doc.text[unit.date.start : unit.date.end]
            inferred = {
                "date": unit.date.value.isoformat(),
                "_date_inferred": True,
                "note": f"年は文書の年度・掲載日から補った日付（{written}）",
            }
        score = _confidence({**unit.values, "date": True}, unit.labelled) - (0.1 if unit.date.inferred else 0.0)
        proposal = _make_proposal(
            doc, "event", unit.spans, unit.values, round(score, 2), pattern="layout" if unit.labelled else "prose",
            inferred=inferred,
        )  # fmt: skip
        if proposal is not None and complete_events(doc, [proposal]):
            proposals.append(proposal)
            doc.consumed.update(line_indices)
    return proposals


# ---------------------------------------------------------------- completing and filtering events


def _clean_title(text: str, area: str | None) -> str:
    title = re.sub(r"^[#\s　" + re.escape(BULLETS) + r"]+", "", text).strip()
    if area and title.startswith(area):
        title = title[len(area) :].strip()
    title = re.sub(r"^(?:令和|平成)(?:元|[0-9０-９]{1,2})年度の?[\s　]*", "", title)
    title = TITLE_TAIL_RE.sub("", title)
    return title.strip(" 　『』「」")


def heading_title(doc: Document, line_index: int, area: str | None) -> tuple[str, int, int] | None:
    """The nearest line before ``line_index`` that reads as a heading naming an event (short, no 。)."""
    for line in reversed(doc.lines[: line_index + 1]):
        text = line.text.strip()
        if not text or SENTENCE_END in text or len(text) > 40 or label_fields(line) or DATE_RE.search(text):
            continue
        if not any(word in text for word in VOCAB.event_words):
            if text.startswith("【") and text.endswith("】"):
                return None  # a bracketed heading of another topic ends the search (【新任コーディネーターへの支援】)
            continue
        title = _clean_title(text, area)
        if title and title.endswith(VOCAB.event_words):  # 「本研修会は令和６年」 is a broken sentence, not a heading
            offset = line.start + line.text.find(title)
            if line.text.find(title) >= 0:
                return title, offset, offset + len(title)
    return None


def sentence_title(doc: Document, start: int, end: int) -> tuple[str, int, int] | None:
    """「『X』と題した研修会」→ X; else the words before the first event word (「多職種連携研修会を開催」)."""
    text = doc.text[start:end]
    if match := re.search(r"[「『](?P<t>[^」』]{2,40})[」』]と題した", text):
        return match["t"], start + match.start("t"), start + match.end("t")
    words = "|".join(re.escape(w) for w in sorted(VOCAB.event_words, key=len, reverse=True))
    if match := re.search(rf"(?P<t>[^\s　、。「」（()）]*?(?:{words}))(?![一-龥ァ-ヶ])", text):  # not 研修室
        s, e = match.span("t")
        phrase = text[s:e]
        cut = max(
            (phrase.rfind(p) + len(p) for p in ("を", "にて", "で", "は", "が", "に", "年度の") if p in phrase),
            default=0,
        )
        s += cut
        if e - s >= 2:
            return text[s:e], start + s, start + e
    return None


def kind_of(words: str) -> str:
    if any(w in words for w in VOCAB.lecture_words) and any(w in words for w in VOCAB.resident_words):
        return "resident_lecture"
    for keyword, kind in VOCAB.event_kind_keywords:
        if keyword in words:
            return kind
    return "multi_professional_training" if any(w in words for w in VOCAB.training_words) else "other"


def _sentence_start(doc: Document, offset: int) -> int:
    """Where the sentence holding ``offset`` starts (after the last 。 on its line, or the line start)."""
    line = doc.line_at(offset)
    at = doc.text.rfind(SENTENCE_END, line.start, offset)
    return at + 1 if at >= 0 else line.start


def _sentence_end(doc: Document, offset: int) -> int:
    line = doc.line_at(offset)
    at = doc.text.find(SENTENCE_END, offset, line.end)
    return at + 1 if at >= 0 else line.end


def _sentence_around(doc: Document, start: int, end: int) -> str:
    line = doc.line_at(start)
    before = doc.text[line.start : start].rsplit(SENTENCE_END, 1)[-1]
    after = doc.text[end : line.end].split(SENTENCE_END, 1)[0]
    return before + doc.text[start:end] + after


def _date_span(doc: Document, proposal: Proposal) -> tuple[int, int]:
    written = proposal.values.get("date")
    at = doc.text.find(written, proposal.start, proposal.end) if written else -1
    if not written or at < 0:
        return proposal.start, proposal.start
    return at, at + len(written)


def _labelled_date(doc: Document, start: int) -> bool:
    """The date follows a date label on its line or on the line before (日時：…, 【日 時】⏎ 令和…)."""
    line = doc.line_at(start)
    previous = next((prev for prev in reversed(doc.lines[: line.index]) if not prev.blank), None)
    for candidate in (line, previous):
        fields = label_fields(candidate) if candidate is not None else None
        if fields and any(f.name in ("datetime", "datetime_venue") for f in fields):
            return True
        bracket = re.match(rf"^{_SP}*【(?P<label>[^】]{{1,12}})】", candidate.text) if candidate is not None else None
        if bracket and _label_field(bracket["label"]) in ("datetime", "datetime_venue"):
            return True
    return False


def is_event(doc: Document, proposal: Proposal) -> bool:
    """A date alone is not an event: it needs a venue, lecturer or head count, or a title and either a date
    label or an event sentence (「…を開催しました」); dates next to 更新日 / 締切 / 施行 … are never events."""
    values = proposal.values
    start, end = _date_span(doc, proposal)
    if end > start and _not_event_date(doc, start, end):
        return False
    if any(key in values for key in ("venue", "lecturer", "participants")):
        return True
    if "title" not in proposal.context:
        return False
    if proposal.pattern not in ("prose", "dated_region") or _labelled_date(doc, start):
        return True
    sentence = _sentence_around(doc, start, end) if end > start else doc.text[proposal.start : proposal.end]
    return any(verb in sentence for verb in VOCAB.event_verbs)


def complete_events(doc: Document, proposals: list[Proposal]) -> list[Proposal]:
    """Title, kind and area for every event proposal; events that are only a date are dropped."""
    area = document_area(doc)
    completed: list[Proposal] = []
    for proposal in proposals:
        if proposal.kind != "event":
            completed.append(proposal)
            continue
        context = dict(proposal.context)
        spans = dict(proposal.context_spans)
        line_index = doc.line_at(proposal.start).index
        title = context.get("title")
        if title and (cleaned := _clean_title(title, area[0] if area else None)) and cleaned in title:
            context["title"] = title = cleaned
            if "title" in spans:
                at = doc.text.find(cleaned, spans["title"][0], spans["title"][1])
                spans["title"] = (at, at + len(cleaned))
        if not title or not any(word in title for word in VOCAB.event_words):
            # prose names its event in the sentence (「第1回多職種研修会を、11月22日…」); label layouts under a heading
            from_sentence = sentence_title(
                doc, _sentence_start(doc, proposal.start), _sentence_end(doc, proposal.start)
            )
            from_heading = heading_title(doc, line_index, area[0] if area else None)
            found = (from_sentence or from_heading) if proposal.pattern == "prose" else (from_heading or from_sentence)
            if found:
                context["title"], spans["title"] = found[0], (found[1], found[2])
        if proposal.pattern in ("layout", "prose") or context.get("kind") in (None, "other"):
            words = " ".join([context.get("title", ""), doc.text[proposal.start : proposal.end][:120]])
            context["kind"] = kind_of(words)
        if area and "area" not in context:
            context["area"], spans["area"] = area[0], (area[1], area[2])
        candidate = replace(proposal, context=context, context_spans=spans)
        if is_event(doc, candidate):
            completed.append(candidate)
    return completed
