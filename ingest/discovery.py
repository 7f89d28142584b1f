"""Finding the files of a corpus: documents, record files and sidecars."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

DOCUMENT_SUFFIXES = frozenset({".txt", ".md", ".pdf", ".docx", ".html", ".htm"})
RECORD_SUFFIXES = (".records.yaml", ".records.yml", ".records.csv")
SIDECAR_SUFFIX = ".meta.yaml"


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


@dataclass
class Discovery:
    root: Path
    documents: list[Path] = field(default_factory=list)
    record_files: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def is_record_file(path: Path) -> bool:
    return path.name.endswith(RECORD_SUFFIXES)


def is_document_path(relative: Path) -> bool:
    """Whether a corpus-relative path is one discovery ingests as a document (not hidden, a record file,
    a sidecar or an unsupported type)."""
    return (
        not any(part.startswith(".") for part in relative.parts)
        and not relative.name.endswith(SIDECAR_SUFFIX)
        and not is_record_file(relative)
        and relative.suffix.lower() in DOCUMENT_SUFFIXES
    )


def sidecar_of(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def discover(root: Path, only: Iterable[Path] | None = None) -> Discovery:
    """Walk ``root`` (or just the given files inside it). Symlinks leading outside the root are refused."""
    root = root.resolve()
    found = Discovery(root=root)
    candidates = (
        sorted(only) if only is not None else sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())
    )
    for path in candidates:
        relative_parts = path.relative_to(root).parts if path.is_relative_to(root) else ()
        if any(part.startswith(".") for part in relative_parts):
            continue
        resolved = path.resolve()
        if not resolved.is_relative_to(root):
            found.skipped.append(SkippedFile(path, "points outside the corpus directory; not ingested"))
            continue
        if not resolved.is_file():
            continue
        if path.name.endswith(SIDECAR_SUFFIX):
            continue
        if is_record_file(path):
            found.record_files.append(path)
        elif path.suffix.lower() in DOCUMENT_SUFFIXES:
            found.documents.append(path)
        else:
            found.skipped.append(SkippedFile(path, f"unsupported file type {path.suffix or '(none)'!r}"))
    return found
