"""Read and validate one record file (YAML or CSV) without touching the database.

Errors name the file, the line, the record and the field; a bad record is dropped and the others
are kept. Quotes are checked against the text of the named document when it is a text file.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import ValidationError

from records.schema import SECTIONS, EventIn, FileHeader, RecordIn

RECORD_SUFFIXES: tuple[str, ...] = (".records.yaml", ".records.yml", ".records.csv")
TEXT_SUFFIXES: frozenset[str] = frozenset({".txt", ".md", ".markdown", ".text"})

DocumentTextLoader = Callable[[Path], "str | None"]


def is_record_file(path: Path) -> bool:
    """True for ``<name>.records.yaml`` / ``.records.yml`` / ``.records.csv``."""
    return path.name.lower().endswith(RECORD_SUFFIXES)


@dataclass(frozen=True)
class RecordError:
    file: str
    message: str
    line: int | None = None
    record: str | None = None  # e.g. "events[3] (id=block-training-north)"
    field: str | None = None  # e.g. "date" or "participants[1].count"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        parts = [where]
        if self.record:
            parts.append(self.record)
        if self.field:
            parts.append(f"field {self.field!r}")
        return f"{': '.join(parts)}: {self.message}"


@dataclass(frozen=True)
class ParsedRecord:
    type: str  # block, event, survey, ...
    data: RecordIn
    document_id: str
    document_path: Path
    line: int | None
    label: str  # events[3] (id=...)


@dataclass
class ParsedFile:
    path: Path
    relative_path: str
    records: list[ParsedRecord] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    fatal: bool = False  # nothing could be read; the previous records should be kept
    document_id: str | None = None


class _RecordYamlLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 surprises: dates stay strings, 14:00 is not the integer 840."""


_RecordYamlLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int"}
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_RecordYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)


def _node_line(node: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """Line (1-based) of the deepest node reachable along ``path`` (keys and indexes)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for step in path:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == step:
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            child = node.value[step]
        if child is None:
            return line
        node = child
        line = node.start_mark.line + 1
    return line


def _field_path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not text:
            text = str(part)
        else:
            text += f".{part}"
    return text


def _model_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's validator names (function-before[...], tagged unions) from a location."""
    return tuple(p for p in loc if isinstance(p, int) or not re.match(r"^[a-z-]+\[", str(p)))


def _document_id(file: Path, document: str, corpus_root: Path) -> tuple[str, Path]:
    """(document_id, absolute path) of a document named relative to the record file's directory."""
    if PurePosixPath(document).is_absolute() or Path(document).is_absolute():
        raise ValueError("document must be a path relative to the record file's directory")
    target = (file.parent / document).resolve()
    try:
        return target.relative_to(corpus_root.resolve()).as_posix(), target
    except ValueError:
        raise ValueError(f"document {document!r} lies outside the corpus root {corpus_root}") from None


def read_document_text(path: Path) -> str | None:
    """Text of a plain-text document (UTF-8, else CP932), newlines normalised; None for other formats."""
    if path.suffix.lower() not in TEXT_SUFFIXES:
        return None
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _quotes(record: RecordIn) -> Iterator[tuple[str, str]]:
    """(field path, quote) for a record and its parts."""
    yield "quote", record.quote
    for i, participant in enumerate(getattr(record, "participants", [])):
        if participant.quote:
            yield f"participants[{i}].quote", participant.quote
    for i, question in enumerate(getattr(record, "questions", [])):
        if question.quote:
            yield f"questions[{i}].quote", question.quote


def _quote_error(quote: str, text: str, document_id: str) -> str | None:
    if quote in text:
        return None
    preview = quote if len(quote) <= 40 else quote[:40] + "…"
    message = f"quote is not an exact substring of {document_id}: {preview!r}"
    if unicodedata.normalize("NFKC", quote) in unicodedata.normalize("NFKC", text):
        message += " (it differs only in full-width/half-width characters)"
    elif " ".join(quote.split()) in " ".join(text.split()):
        message += " (it differs only in spaces or line breaks)"
    return message


class _FileReader:
    """Shared state while reading one record file."""

    def __init__(self, path: Path, corpus_root: Path, text_loader: DocumentTextLoader) -> None:
        self.path = path
        self.corpus_root = corpus_root
        self.text_loader = text_loader
        try:
            relative = path.resolve().relative_to(corpus_root.resolve()).as_posix()
        except ValueError:
            relative = path.as_posix()
        self.result = ParsedFile(path=path, relative_path=relative)
        self._texts: dict[Path, str | None] = {}

    def error(
        self, message: str, *, line: int | None = None, record: str | None = None, field: str | None = None
    ) -> None:
        self.result.errors.append(RecordError(self.result.relative_path, message, line, record, field))

    def fatal(self, message: str, *, line: int | None = None, field: str | None = None) -> ParsedFile:
        self.error(message, line=line, field=field)
        self.result.fatal = True
        return self.result

    def document_text(self, path: Path) -> str | None:
        if path not in self._texts:
            self._texts[path] = self.text_loader(path)
        return self._texts[path]

    def resolve_document(self, document: str) -> tuple[str, Path]:
        document_id, target = _document_id(self.path, document, self.corpus_root)
        if not target.is_file():
            raise ValueError(f"document {document!r} not found (looked for {target})")
        return document_id, target

    def add_record(
        self,
        record_type: str,
        model: type[RecordIn],
        raw: Any,
        label: str,
        line_of: Callable[[tuple[Any, ...]], int | None],
        default_document: tuple[str, Path],
        seen_ids: dict[str, str],
    ) -> None:
        if not isinstance(raw, dict):
            self.error("a record must be a mapping of fields", line=line_of(()), record=label)
            return
        record_id = raw.get("id")
        if isinstance(record_id, str):
            label = f"{label} (id={record_id})"
        try:
            data = model.model_validate(raw)
        except ValidationError as exc:
            for problem in exc.errors():
                loc = _model_loc(tuple(problem["loc"]))
                self.error(problem["msg"], line=line_of(loc), record=label, field=_field_path(loc) or None)
            return
        if data.id in seen_ids:
            self.error(
                f"duplicate id {data.id!r} (first used by {seen_ids[data.id]})",
                line=line_of(("id",)),
                record=label,
                field="id",
            )
            return
        seen_ids[data.id] = label
        document = default_document
        if data.document:
            try:
                document = self.resolve_document(data.document)
            except ValueError as exc:
                self.error(str(exc), line=line_of(("document",)), record=label, field="document")
                return
        text = self.document_text(document[1])
        if text is not None:
            problems = [(path, msg) for path, quote in _quotes(data) if (msg := _quote_error(quote, text, document[0]))]
            for path, message in problems:
                loc = tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", path) if p)
                self.error(message, line=line_of(loc), record=label, field=path)
            if problems:
                return
        self.result.records.append(ParsedRecord(record_type, data, document[0], document[1], line_of(()), label))


def _default_text_loader(path: Path) -> str | None:
    return read_document_text(path)


def parse_yaml_file(
    path: Path, corpus_root: Path, text_loader: DocumentTextLoader = _default_text_loader
) -> ParsedFile:
    reader = _FileReader(path, corpus_root, text_loader)
    try:
        source = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return reader.fatal(f"cannot read the file: {exc}")
    try:
        loader = _RecordYamlLoader(source)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return reader.fatal(
            f"invalid YAML: {getattr(exc, 'problem', None) or exc}", line=mark.line + 1 if mark else None
        )
    if not isinstance(data, dict):
        return reader.fatal("the file must be a mapping with 'document:' and record lists", line=1)
    try:
        header = FileHeader.model_validate(data)
    except ValidationError as exc:
        for problem in exc.errors():
            loc = _model_loc(tuple(problem["loc"]))
            reader.error(problem["msg"], line=_node_line(root, loc), field=_field_path(loc))
        reader.result.fatal = True
        return reader.result
    try:
        default_document = reader.resolve_document(header.document)
    except ValueError as exc:
        return reader.fatal(str(exc), line=_node_line(root, ("document",)), field="document")
    reader.result.document_id = default_document[0]
    seen_ids: dict[str, str] = {}
    for key, (record_type, model) in SECTIONS.items():
        for index, raw in enumerate(getattr(header, key)):
            base = (key, index)

            def line_of(loc: tuple[Any, ...], base: tuple[Any, ...] = base) -> int | None:
                return _node_line(root, base + loc)

            reader.add_record(record_type, model, raw, f"{key}[{index}]", line_of, default_document, seen_ids)
    return reader.result


CSV_LIST_SEPARATOR = "|"
CSV_COLUMNS: frozenset[str] = frozenset(
    {
        "document", "id", "kind", "title", "part", "parent", "theme", "programme", "fiscal_year", "date", "time",
        "recurrence", "status", "venue", "area", "lecturer_name", "lecturer_title", "lecturer_affiliation", "audience",
        "blocks", "wards", "presenter_wards", "participants", "note", "section", "quote",
    }
)  # fmt: skip
_CSV_LISTS = ("programme", "blocks", "wards", "presenter_wards")


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(CSV_LIST_SEPARATOR) if part.strip()]


def _csv_participants(value: str) -> list[dict[str, Any]]:
    """``区担当者=43|新任者=30<区担当者`` → participant dicts (``<`` names the group it is part of)."""
    result: list[dict[str, Any]] = []
    for item in _split(value):
        group, _, rest = item.partition("=")
        count, _, subset_of = rest.partition("<")
        entry: dict[str, Any] = {"group": group.strip(), "count": count.strip()}
        if subset_of.strip():
            entry["subset_of"] = subset_of.strip()
        result.append(entry)
    return result


def _csv_row_to_event(row: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    lecturer: dict[str, str] = {}
    for column, raw in row.items():
        value = (raw or "").strip() if column != "quote" else (raw or "")
        if not value or column == "document":
            continue
        if column in _CSV_LISTS:
            data[column] = _split(value)
        elif column == "participants":
            data[column] = _csv_participants(value)
        elif column.startswith("lecturer_"):
            lecturer[column.removeprefix("lecturer_")] = value
        else:
            data[column] = value
    if lecturer:
        data["lecturer"] = lecturer
    return data


def parse_csv_file(path: Path, corpus_root: Path, text_loader: DocumentTextLoader = _default_text_loader) -> ParsedFile:
    """A flat table of events, one per row; the ``document`` column names each row's source."""
    reader = _FileReader(path, corpus_root, text_loader)
    try:
        source = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return reader.fatal(f"cannot read the file: {exc}")
    table = csv.DictReader(io.StringIO(source, newline=""))
    columns = set(table.fieldnames or [])
    unknown = sorted(columns - CSV_COLUMNS)
    missing = sorted({"document", "id", "kind", "title", "section", "quote"} - columns)
    if unknown or missing:
        problems = ([f"unknown columns: {', '.join(unknown)}"] if unknown else []) + (
            [f"missing columns: {', '.join(missing)}"] if missing else []
        )
        return reader.fatal("; ".join(problems), line=1)
    seen_ids: dict[str, str] = {}
    documents: dict[str, tuple[str, Path]] = {}
    line = table.line_num
    for index, row in enumerate(table):
        row_line = line + 1
        line = table.line_num
        label = f"row {index + 1}"
        document = (row.get("document") or "").strip()
        if not document:
            reader.error("document is empty", line=row_line, record=label, field="document")
            continue
        if document not in documents:
            try:
                documents[document] = reader.resolve_document(document)
            except ValueError as exc:
                reader.error(str(exc), line=row_line, record=label, field="document")
                continue
        reader.result.document_id = reader.result.document_id or documents[document][0]

        def line_of(_loc: tuple[Any, ...], row_line: int = row_line) -> int | None:
            return row_line

        reader.add_record("event", EventIn, _csv_row_to_event(row), label, line_of, documents[document], seen_ids)
    return reader.result


def parse_record_file(
    path: Path, corpus_root: Path, text_loader: DocumentTextLoader = _default_text_loader
) -> ParsedFile:
    if path.name.lower().endswith(".records.csv"):
        return parse_csv_file(path, corpus_root, text_loader)
    return parse_yaml_file(path, corpus_root, text_loader)
