"""Document-level metadata: id, title, document type, fiscal year and the wards it mentions.

Explicit values win: the front matter (or a sidecar ``<file>.meta.yaml`` merged into it by the
ingest run) may set ``title``, ``doc_type``, ``fiscal_year`` (2023, 令和5, R5, 令和5年度) and
``wards``. Whatever is missing is inferred from the path and the text.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from ingest.parsers import flatten_value
from knowledge.text import nfkc
from records.reference import WARDS

DOC_TYPES: tuple[str, ...] = ("program_document", "ward_finding", "training_writeup", "other")

_ERA_START = {"令和": 2018, "平成": 1988, "昭和": 1925}  # 令和N年 = 2018 + N
_ERA_LETTER = {"r": "令和", "h": "平成", "s": "昭和"}
_ERA_YEAR_RE = re.compile(r"(令和|平成|昭和)\s*(元|\d{1,2})\s*年度")
_GREGORIAN_FY_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年度")
_PATH_ERA_RE = re.compile(r"(?<![a-z])([rh])(\d{1,2})(?!\d)")
_PATH_FY_RE = re.compile(r"(?<!\d)(?:fy)?((?:19|20)\d{2})(?!\d)")
_WARD_RE = re.compile("|".join(sorted(WARDS, key=len, reverse=True)))

# keyword → weight per document type; path and title hits count three times
_TYPE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "program_document": ("事業", "進捗", "取組", "計画", "評価指標", "progress", "program", "plan"),
    "training_writeup": ("研修", "アンケート", "講師", "受講", "感想", "training", "seminar", "survey"),
    "ward_finding": ("課題", "現状", "困っていること", "finding", "ward"),
}
_HEAD_CHARS = 3000  # the "salient" part of the text: title and opening


@dataclass(frozen=True)
class DocMeta:
    title: str
    doc_type: str
    fiscal_year: int | None
    wards: tuple[str, ...]


def read_sidecar(document_path: Path) -> dict[str, str]:
    """The ``<file>.meta.yaml`` next to a document, flattened like front matter; {} when absent."""
    sidecar = document_path.with_name(document_path.name + ".meta.yaml")
    if not sidecar.is_file():
        return {}
    try:
        loaded = yaml.safe_load(sidecar.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"{sidecar.name}: not valid UTF-8 YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{sidecar.name}: expected a mapping of metadata fields")
    return {str(key): flatten_value(value) for key, value in loaded.items()}


def document_id_for(path: Path, corpus_root: Path) -> str:
    """The document id: ``path`` relative to ``corpus_root`` in POSIX form (symlinks resolved)."""
    resolved = path.resolve()
    root = corpus_root.resolve()
    try:
        relative = resolved.relative_to(root)
    except ValueError:
        raise ValueError(f"{path} is outside the corpus root {corpus_root}") from None
    if not relative.parts:
        raise ValueError(f"{path} is the corpus root itself, not a file in it")
    return relative.as_posix()


def infer_metadata(relative_path: str, text: str, front_matter: dict[str, str], *, title: str | None = None) -> DocMeta:
    """Metadata for one document; ``title`` is the parser's title (Markdown heading, PDF title)."""
    resolved_title = (front_matter.get("title") or "").strip() or title or _title_from_text(text, relative_path)
    head = nfkc(resolved_title + "\n" + text[:_HEAD_CHARS])
    wards = _explicit_wards(front_matter.get("wards", "")) or wards_mentioned(text)
    return DocMeta(
        title=resolved_title,
        doc_type=_doc_type(front_matter, relative_path, resolved_title, head, text),
        fiscal_year=_fiscal_year(front_matter, relative_path, resolved_title, text),
        wards=wards,
    )


def wards_mentioned(text: str) -> tuple[str, ...]:
    """Osaka wards named in ``text`` (longest name first, so 東淀川区 is not also 淀川区), in city order."""
    found = set(_WARD_RE.findall(text))
    return tuple(ward for ward in WARDS if ward in found)


def _ward_counts(text: str) -> Counter[str]:
    return Counter(_WARD_RE.findall(text))


def _explicit_wards(value: str) -> tuple[str, ...]:
    names = {name.strip() for name in re.split(r"[,、，\s]+", value) if name.strip()}
    unknown = sorted(name for name in names if name not in WARDS and f"{name}区" not in WARDS)
    if unknown:
        raise ValueError(f"unknown ward(s) in metadata: {', '.join(unknown)}")
    canonical = {name if name in WARDS else f"{name}区" for name in names}
    return tuple(ward for ward in WARDS if ward in canonical)


# --- title ---------------------------------------------------------------------------------

_NOT_TITLE_RE = re.compile(r"^(?:[0-9０-９]+[.．、]|[（(][0-9０-９]+[）)]|[\u2460-\u2473・〇●■【＜〈#-])")


def _title_from_text(text: str, relative_path: str) -> str:
    """The first line that reads like a title; else the file name."""
    for line in text.split("\n")[:40]:
        line = line.strip()
        if 6 <= len(line) <= 60 and not _NOT_TITLE_RE.match(line) and not line.endswith(("。", "：", ":")):
            return line
    return PurePosixPath(relative_path).stem


# --- document type -------------------------------------------------------------------------


def _doc_type(front_matter: dict[str, str], relative_path: str, title: str, head: str, text: str) -> str:
    explicit = (front_matter.get("doc_type") or "").strip()
    if explicit:
        if explicit not in DOC_TYPES:
            raise ValueError(f"doc_type must be one of {', '.join(DOC_TYPES)}; got '{explicit}'")
        return explicit
    labelled = nfkc(relative_path.lower() + "\n" + title)
    scores = {
        doc_type: 3 * _hits(labelled, keywords) + _hits(head, keywords) for doc_type, keywords in _TYPE_KEYWORDS.items()
    }
    if _is_one_ward_finding(title, text):
        scores["ward_finding"] += 5
    best = max(scores, key=lambda doc_type: scores[doc_type])
    return best if scores[best] > 0 else "other"


def _hits(text: str, keywords: tuple[str, ...]) -> int:
    return sum(text.count(keyword) for keyword in keywords)


def _is_one_ward_finding(title: str, text: str) -> bool:
    """A document about one ward's own work or problems: one ward dominates and 課題/取組み appear."""
    counts = _ward_counts(title) or _ward_counts(text[:_HEAD_CHARS])
    if not counts:
        return False
    _ward, top = counts.most_common(1)[0]
    dominant = len(counts) == 1 or top >= 0.6 * sum(counts.values())
    return dominant and any(word in title + text[:_HEAD_CHARS] for word in ("課題", "取組み", "取り組み", "現状"))


# --- fiscal year ---------------------------------------------------------------------------


def fiscal_year_from(value: str) -> int | None:
    """``2023``, ``令和5``, ``令和5年度``, ``R5``, ``平成30``, ``令和元`` → Gregorian fiscal year."""
    value = nfkc(value).strip()
    if re.fullmatch(r"(?:19|20)\d{2}(?:年度)?", value):
        return int(value[:4])
    match = re.fullmatch(r"(令和|平成|昭和|[RrHhSs])\s*(元|\d{1,2})\s*(?:年度?)?", value)
    if not match:
        return None
    era = _ERA_LETTER.get(match.group(1).lower(), match.group(1))
    return _era_to_year(era, match.group(2))


def _era_to_year(era: str, number: str) -> int:
    return _ERA_START[era] + (1 if number == "元" else int(number))


def _fiscal_year(front_matter: dict[str, str], relative_path: str, title: str, text: str) -> int | None:
    explicit = (front_matter.get("fiscal_year") or front_matter.get("年度") or "").strip()
    if explicit:
        year = fiscal_year_from(explicit)
        if year is None:
            raise ValueError(f"fiscal_year not understood: '{explicit}'")
        return year
    return (
        _most_mentioned_year(nfkc(title))
        or _year_from_path(relative_path)
        or _most_mentioned_year(nfkc(text[:_HEAD_CHARS]))
    )


def _most_mentioned_year(text: str) -> int | None:
    years = [_era_to_year(era, number) for era, number in _ERA_YEAR_RE.findall(text)]
    years += [int(year) for year in _GREGORIAN_FY_RE.findall(text)]
    if not years:
        return None
    counts = Counter(years)
    return max(counts, key=lambda year: (counts[year], year))  # most mentioned; ties → the later year


def _year_from_path(relative_path: str) -> int | None:
    stem = relative_path.lower()
    match = _PATH_ERA_RE.search(stem)
    if match:
        return _era_to_year(_ERA_LETTER[match.group(1)], match.group(2))
    match = _PATH_FY_RE.search(stem)
    return int(match.group(1)) if match else None
