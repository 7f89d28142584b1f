"""Turn one source file (.txt .md .pdf .docx .html/.htm) into the text renkei stores.

``parse_file`` is the only entry point the ingest run needs. It raises ``ParseError`` with a
message an administrator can act on, and ``UnsupportedFileType`` (a ``ParseError``) for files
that are simply not documents (the run reports those as skipped, not failed).

Headings found in DOCX and HTML are written as Markdown-style lines (``## 見出し``) so that the
chunker sees the same structure markers for every format.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from ingest.normalize import clean_text, looks_wrapped

if TYPE_CHECKING:
    from bs4 import Tag
    from docx.table import Table
    from docx.text.paragraph import Paragraph

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset({".txt", ".md", ".pdf", ".docx", ".html", ".htm"})

MAX_FILE_BYTES = 50_000_000  # larger files are refused by their size, before any byte is read
MAX_ZIP_RATIO = 100  # uncompressed/compressed size of one archive member bigger than 1 MiB
MAX_UNCOMPRESSED_FACTOR = 4  # whole .docx, uncompressed, at most this many times max_bytes
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*(?:\n|\Z)", re.DOTALL)
_MD_TITLE_RE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_PDF_STREAM_RE = re.compile(rb"stream\r?\n")
_PDF_INFLATE_STEP = 1 << 20
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # C0/C1 controls except \t\n\v\f\r
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")
_HALFWIDTH_KANA_RE = re.compile(r"[\uff61-\uff9f]")
_KANA_RE = re.compile(r"[\u3041-\u3096\u30a1-\u30fa]")


class ParseError(Exception):
    """A file could not be turned into text; ``reason`` is shown to the administrator."""

    def __init__(self, reason: str, stage: str = "parse") -> None:
        super().__init__(reason)
        self.reason = reason
        self.stage = stage


class UnsupportedFileType(ParseError):
    """Not a document type renkei reads; report the file as skipped."""


@dataclass(frozen=True)
class PageSpan:
    """Characters ``text[start:end]`` came from page ``page_no`` (1-based)."""

    start: int
    end: int
    page_no: int


@dataclass(frozen=True)
class ParsedDocument:
    text: str
    pages: tuple[PageSpan, ...] = ()
    title: str | None = None
    front_matter: dict[str, str] = field(default_factory=dict)


def parse_file(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> ParsedDocument:
    """Read ``path`` and return its stored text, page spans (PDF), title and front matter."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFileType(f"unsupported file type '{suffix or path.name}'", stage="discover")
    check_file_size(path, max_bytes)
    if suffix in (".txt", ".md"):
        document = _parse_plain(path.read_bytes(), markdown=suffix == ".md")
    elif suffix == ".pdf":
        document = _parse_pdf(path)
    elif suffix == ".docx":
        document = _parse_docx(path, max_uncompressed=max_bytes * MAX_UNCOMPRESSED_FACTOR)
    else:
        document = _parse_html(path.read_bytes())
    if not document.text.strip():
        raise ParseError("no text found in the file", stage="parse")
    return document


def check_file_size(path: Path, max_bytes: int = MAX_FILE_BYTES) -> None:
    """Refuse an empty or too large file from its size alone (``ParseError``, stage ``read``)."""
    size = _file_size(path)
    if size == 0:
        raise ParseError("empty file", stage="read")
    if size > max_bytes:
        raise ParseError(f"file too large: {size:,} bytes (limit {max_bytes:,})", stage="read")


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise ParseError(f"cannot read file: {exc.strerror or exc}", stage="read") from exc


# --- plain text and Markdown -------------------------------------------------------------


def decode_bytes(data: bytes) -> str:
    """Decode text bytes: BOMs, strict UTF-8, strict CP932, strict EUC-JP, then charset-normalizer.

    Raises ``ParseError`` for binary data (NUL bytes, control characters, no plausible encoding).
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _reject_binary(_strict(data, "utf-16") or "")
    if b"\x00" in data:
        raise ParseError("binary data, not text (contains NUL bytes)", stage="decode")
    text = _strict(data, "utf-8-sig")
    if text is not None:
        return _reject_binary(text)
    text = _strict(data, "cp932")
    if text is not None and _plausible_cp932(text):
        return _reject_binary(text)
    text = _strict(data, "euc_jp")
    if text is not None and _KANA_RE.search(text):
        return _reject_binary(text)
    import charset_normalizer  # imported lazily: only needed for unusual encodings

    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise ParseError("binary data or unknown text encoding", stage="decode")
    return _reject_binary(str(best))


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _plausible_cp932(text: str) -> bool:
    """CP932 decodes EUC-JP and Latin-1 bytes as half-width katakana soup; reject that."""
    non_ascii = len(_NON_ASCII_RE.findall(text))
    halfwidth_kana = len(_HALFWIDTH_KANA_RE.findall(text))
    return non_ascii == 0 or halfwidth_kana / non_ascii < 0.3


def _reject_binary(text: str) -> str:
    if not text:
        raise ParseError("binary data or unknown text encoding", stage="decode")
    controls = len(_CONTROL_RE.findall(text))
    if controls / len(text) > 0.01 or text.count("\ufffd") / len(text) > 0.01:
        raise ParseError("binary data, not text (control characters)", stage="decode")
    return text.lstrip("\ufeff")


def _parse_plain(data: bytes, *, markdown: bool) -> ParsedDocument:
    raw = decode_bytes(data).replace("\r\n", "\n").replace("\r", "\n")
    front_matter, body = split_front_matter(raw)
    text = clean_text(body, join_broken_lines=not markdown and looks_wrapped(body))
    title = front_matter.get("title") or None
    if title is None and markdown:
        match = _MD_TITLE_RE.search(text)
        title = match.group(1).strip() if match else None
    return ParsedDocument(text=text, title=title, front_matter=front_matter)


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split a leading YAML ``---`` block that parses to a mapping; other text is left alone."""
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    try:
        loaded = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}, text
    if not isinstance(loaded, dict):
        return {}, text
    return {str(key): flatten_value(value) for key, value in loaded.items()}, text[match.end() :]


def flatten_value(value: object) -> str:
    """A front-matter value as text: lists joined with ', ', None as ''."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(flatten_value(item) for item in value)
    return str(value).strip()


# --- PDF ---------------------------------------------------------------------------------


def _parse_pdf(path: Path) -> ParsedDocument:
    import pypdf
    from pypdf.errors import PyPdfError

    check_pdf_expansion(path.read_bytes())
    try:
        reader = pypdf.PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError("encrypted PDF (password required)", stage="parse")
        page_texts = [page.extract_text() or "" for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata else None
    except ParseError:
        raise
    except PyPdfError as exc:
        raise ParseError(f"corrupt or unreadable PDF: {exc}", stage="parse") from exc
    except Exception as exc:  # a damaged file can break pypdf in many ways (KeyError, zlib.error, ...)
        raise ParseError(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})", stage="parse") from exc
    text, spans = _join_pages(page_texts)
    if not text.strip():
        raise ParseError("PDF has no text layer; OCR is not supported", stage="parse")
    return ParsedDocument(text=text, pages=spans, title=_clean_pdf_title(meta_title))


def check_pdf_expansion(data: bytes) -> None:
    """Refuse a PDF whose compressed streams inflate like a zip bomb (the .docx rule, per stream).

    Each ``stream … endstream`` body is inflated in 1 MiB steps, stopping as soon as it passes the ratio,
    so a bomb costs at most a few MiB of memory. Streams that are not zlib data (images, fonts) are ignored.
    """
    for match in _PDF_STREAM_RE.finditer(data):
        end = data.find(b"endstream", match.end())
        body = data[match.end() : end if end >= 0 else len(data)]
        limit = max(1 << 20, MAX_ZIP_RATIO * len(body))
        inflater, produced = zlib.decompressobj(), 0
        try:
            while body and produced <= limit:
                produced += len(inflater.decompress(body, _PDF_INFLATE_STEP))
                body = inflater.unconsumed_tail
        except zlib.error:
            continue
        if produced > limit:
            raise ParseError(
                f"the PDF stream at byte {match.end():,} inflates more than {MAX_ZIP_RATIO}:1 beyond 1 MiB; "
                "refusing a possible zip bomb",
                stage="parse",
            )


def _join_pages(page_texts: list[str]) -> tuple[str, tuple[PageSpan, ...]]:
    parts: list[str] = []
    spans: list[PageSpan] = []
    offset = 0
    for page_no, raw in enumerate(page_texts, start=1):
        page_text = clean_text(raw)
        if not page_text:
            continue
        if parts:
            parts.append("\n\n")
            offset += 2
        spans.append(PageSpan(offset, offset + len(page_text), page_no))
        parts.append(page_text)
        offset += len(page_text)
    return "".join(parts), tuple(spans)


def _clean_pdf_title(title: object) -> str | None:
    if not isinstance(title, str):
        return None
    title = re.sub(r"^Microsoft (?:Word|PowerPoint) - ", "", title.strip())
    title = re.sub(r"\.(?:docx?|pptx?|xlsx?)$", "", title, flags=re.IGNORECASE)
    if title.lower() in ("", "untitled", "untitled document"):
        return None
    return title


# --- DOCX --------------------------------------------------------------------------------


def _parse_docx(path: Path, *, max_uncompressed: int) -> ParsedDocument:
    _check_docx_archive(path, max_uncompressed=max_uncompressed)
    import docx
    from docx.table import Table as DocxTable
    from docx.text.paragraph import Paragraph as DocxParagraph

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises many kinds for broken packages
        raise ParseError(f"unreadable .docx: {exc}", stage="parse") from exc
    lines: list[str] = []
    heading_title: str | None = None
    for block in document.iter_inner_content():
        if isinstance(block, DocxParagraph):
            line, level = _docx_paragraph_line(block)
            if level == 1 and heading_title is None:
                heading_title = block.text.strip()
            lines.append(line)
        elif isinstance(block, DocxTable):
            lines.extend(_docx_table_lines(block))
    core_title = (document.core_properties.title or "").strip()
    text = clean_text("\n".join(lines), join_broken_lines=False)
    return ParsedDocument(text=text, title=core_title or heading_title)


def _check_docx_archive(path: Path, *, max_uncompressed: int) -> None:
    if not zipfile.is_zipfile(path):
        raise ParseError("not a valid .docx (not a zip archive)", stage="parse")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ParseError(f"not a valid .docx: {exc}", stage="parse") from exc
    if not any(info.filename == "word/document.xml" for info in infos):
        raise ParseError("not a valid .docx (word/document.xml missing)", stage="parse")
    total = sum(info.file_size for info in infos)
    if total > max_uncompressed:
        raise ParseError(
            f".docx expands to {total:,} bytes (limit {max_uncompressed:,}); refusing a possible zip bomb",
            stage="parse",
        )
    for info in infos:
        if info.file_size > 1 << 20 and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            raise ParseError(
                f".docx member {info.filename} is compressed {info.file_size // max(info.compress_size, 1)}:1; "
                "refusing a possible zip bomb",
                stage="parse",
            )


def _docx_paragraph_line(paragraph: Paragraph) -> tuple[str, int | None]:
    text = paragraph.text.strip()
    style_name = (paragraph.style.name if paragraph.style is not None else "") or ""
    level = _heading_level(style_name)
    if level is not None and text:
        return f"{'#' * level} {text}", level
    return text, None


def _heading_level(style_name: str) -> int | None:
    if style_name == "Title":
        return 1
    match = re.match(r"^(?:Heading|見出し)\s*(\d)$", style_name)
    return min(int(match.group(1)), 6) if match else None


def _docx_table_lines(table: Table) -> list[str]:
    lines: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # merged cells repeat; keep one
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        line = " | ".join(cell for cell in cells if cell)
        if line:
            lines.append(line)
    return lines


# --- HTML --------------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "caption",
    ]
)
_DROP_TAGS = ("script", "style", "noscript", "template", "head", "svg", "iframe", "object")
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def _parse_html(data: bytes) -> ParsedDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode_html(data), "html.parser")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    for tag in soup(_DROP_TAGS):
        tag.decompose()
    if not title:
        h1 = soup.find("h1")
        title = h1.get_text(" ", strip=True) if h1 else ""
    root = soup.body or soup
    parts: list[str] = []
    _html_walk(root, parts)
    lines = (line.strip().removeprefix("| ").strip() for line in "".join(parts).split("\n"))
    lines = (line for line in lines if line)  # block boundaries give single line breaks
    text = clean_text("\n".join(lines), join_broken_lines=False)
    return ParsedDocument(text=text, title=title or None)


def _decode_html(data: bytes) -> str:
    declared = _META_CHARSET_RE.search(data[:4096])
    if declared:
        try:
            return _reject_binary(data.decode(declared.group(1).decode("ascii")))
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_bytes(data)


def _html_walk(node: Tag, parts: list[str]) -> None:
    from bs4.element import Comment, NavigableString, Tag

    for child in node.children:
        if isinstance(child, Comment):
            continue
        if isinstance(child, NavigableString):
            parts.append(re.sub(r"\s+", " ", str(child)))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name == "br":
            parts.append("\n")
            continue
        if name in ("td", "th"):
            parts.append(" | ")
        if name in _BLOCK_TAGS:
            parts.append("\n")
            if re.fullmatch(r"h[1-6]", name):
                parts.append("#" * int(name[1]) + " ")
            elif name == "li":
                parts.append("・")
        _html_walk(child, parts)
        if name in _BLOCK_TAGS:
            parts.append("\n")
