"""Text clean-up for extracted documents, and the NFKC form used only for searching.

``clean_text`` is deliberately conservative: it repairs what text extraction breaks (newline
styles, trailing spaces, runs of blank lines, sentences wrapped across lines with a blank line in
between) and keeps every structural line — headings, bullets, label lines such as ``講 師`` and
``： 北区、...``, numbers and dates — on a line of its own.
"""

from __future__ import annotations

import re

from knowledge.text import nfkc

# A wrapped line is at least this long; shorter lines are labels, options or titles.
MIN_WRAPPED_LINE_CHARS = 20

_SENTENCE_END = frozenset("。．.！？!?」』）)】〉＞>］]”’…")
_BULLET_START = frozenset("・･•●○◯〇◎■□◆◇▲△▼▽★☆※➡→⇒-*＊+＋>＞<＜〈《【［[（(「『～〜—")
_CIRCLED = "".join(chr(c) for c in range(0x2460, 0x2474))  # ①..⑳
_LABEL_RE = re.compile(r"^[^：:]{0,12}[：:]")
_STRUCTURE_START_RE = re.compile(
    rf"""^(?:
        [0-9０-９]                                   # numbers, page numbers, survey counts
      | [{_CIRCLED}]
      | 第\s*[0-9０-９一二三四五六七八九十]+\s*[章節部回条項]
      | 取組み?\s*[0-9０-９]
      | (?:令和|平成|昭和)\s*(?:元|[0-9０-９]+)\s*年   # a line that starts with a date
      | \#
    )""",
    re.VERBOSE,
)
_JOINABLE_CHAR_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff66-\uff9f、，,・ー々〆A-Za-zＡ-Ｚａ-ｚ]")
_ASCII_WORD_RE = re.compile(r"[A-Za-z0-9]")


def search_form(text: str) -> str:
    """NFKC form for matching only (full-width digits → ASCII etc.); never store it."""
    return nfkc(text)


# A page of A4 text holds about 40–50 full-width characters a line; a plain-text export of a PDF keeps those
# breaks, so none of its lines is longer than this. An authored text file writes a paragraph on one line
# (measured: the sample report's export has no line over 50 characters; every authored report in
# corpus/field has lines of 76 characters and more).
PAGE_LINE_CHARS = 60


def looks_wrapped(text: str) -> bool:
    """Whether a plain text reads like an export of a laid-out page (every line within a page's width), so
    lines were broken by the layout, not by the author."""
    return all(len(line.strip()) <= PAGE_LINE_CHARS for line in text.splitlines())


def clean_text(raw: str, *, join_broken_lines: bool = True) -> str:
    """Normalise newlines and blank lines; optionally re-join sentences broken across lines.

    ``join_broken_lines`` is meant for text extracted from PDFs and plain-text exports of them;
    leave it off for formats whose line structure is authored (Markdown, DOCX, HTML).
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    if join_broken_lines:
        lines = _join_wrapped_lines(lines)
    return _collapse_blank_lines(lines)


def _collapse_blank_lines(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if not line.strip():
            if out and out[-1] != "":
                out.append("")
            continue
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out)


def _join_wrapped_lines(lines: list[str]) -> list[str]:
    """Join line pairs that are one sentence wrapped by the extractor (at most one blank line between)."""
    out: list[str] = []
    pending: str | None = None  # the line being built, not yet emitted
    blank_run = 0
    for raw_line in lines:
        if not raw_line.strip():
            blank_run += 1
            continue
        if pending is not None and blank_run <= 1 and _is_wrapped(pending, raw_line):
            pending = _glue(pending, raw_line.strip())
        else:
            if pending is not None:
                out.append(pending)
                out.extend([""] * blank_run)
            pending = raw_line.strip()
        blank_run = 0
    if pending is not None:
        out.append(pending)
    return out


def _glue(left: str, right: str) -> str:
    if _ASCII_WORD_RE.fullmatch(left[-1]) and _ASCII_WORD_RE.fullmatch(right[0]):
        return f"{left} {right}"
    return left + right


def _is_wrapped(line: str, next_raw: str) -> bool:
    stripped = line.strip()
    return (
        len(stripped) >= MIN_WRAPPED_LINE_CHARS
        and stripped[-1] not in _SENTENCE_END
        and bool(_JOINABLE_CHAR_RE.fullmatch(stripped[-1]))
        and not is_heading_like(stripped)
        and _is_plain_start(next_raw)
    )


def _is_plain_start(raw_line: str) -> bool:
    """True for a line that can continue the previous one: no indent, bullet, label, number, heading."""
    if not raw_line or raw_line[0].isspace():
        return False  # an indented line starts a new block (page start in PDF exports)
    line = raw_line.strip()
    first = line[0]
    return (
        first not in _BULLET_START
        and first not in "：:"
        and _JOINABLE_CHAR_RE.fullmatch(first) is not None
        and not _STRUCTURE_START_RE.match(line)
        and not _LABEL_RE.match(line)
        and "【" not in line  # 開催予定【内 容】: a caption, not running text
    )


def is_heading_like(line: str) -> bool:
    """Numbered section titles and bracketed labels, e.g. ``取組み３ ...``, ``（１）...``, ``【日 時】``."""
    line = line.strip()
    if not line:
        return False
    if line[0] in "【＜〈《［#":
        return True
    return bool(
        re.match(
            r"^(?:[（(][0-9０-９]+[）)]|第\s*[0-9０-９一二三四五六七八九十]+\s*[章節部]|取組み?\s*[0-9０-９]|[0-9０-９]+[.．]\s)",
            line,
        )
    )
