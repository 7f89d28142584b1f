"""Plain data types passed from ingest to knowledge and on to the assistant."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage. ``text == document_text[start:end]`` always holds."""

    chunk_id: str
    document_id: str
    text: str
    start: int
    end: int
    section_path: tuple[str, ...] = ()
    page: int | None = None
    ordinal: int = 0  # position of the chunk within its document
    metadata: dict[str, str | int | float | bool] = field(default_factory=dict)

    @property
    def section(self) -> str:
        return " > ".join(self.section_path)


@dataclass(frozen=True)
class DocumentInfo:
    """What the knowledge side stores about one source document."""

    document_id: str
    title: str
    doc_type: str
    sha256: str
    text: str  # the stored original text; chunk offsets and snippets refer to it
    fiscal_year: int | None = None
    wards: tuple[str, ...] = ()
    source_path: str = ""
    page_count: int | None = None  # pages of a PDF; None for formats without pages
