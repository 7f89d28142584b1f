"""Load record files into SQL: idempotent and incremental.

Each file's content hash is stored; an unchanged file costs one SELECT and no writes. A changed
file's records are replaced in one transaction. Records that fail validation are reported and
skipped; the rest of the file and the other files still load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from records.models import (
    RECORD_MODELS,
    Block,
    BlockWard,
    Event,
    EventBlock,
    EventWard,
    Finding,
    OnboardingStep,
    ParticipantCount,
    Record,
    RecordFile,
    SupportActivity,
    Survey,
    SurveyOption,
    SurveyQuestion,
    Ward,
)
from records.parsing import (
    DocumentTextLoader,
    ParsedFile,
    ParsedRecord,
    RecordError,
    parse_record_file,
    read_document_text,
)
from records.schema import (
    BlockIn,
    EventIn,
    FindingIn,
    OnboardingStepIn,
    SupportActivityIn,
    SurveyIn,
)

FileStatus = Literal["added", "updated", "unchanged", "deleted", "failed"]


@dataclass(frozen=True)
class FileSyncResult:
    path: str  # relative to the corpus root
    status: FileStatus
    records: int = 0  # records loaded from the file (or deleted, for a deleted file)
    errors: tuple[RecordError, ...] = ()
    reason: str = ""

    @property
    def reasons(self) -> list[str]:
        return ([self.reason] if self.reason else []) + [str(error) for error in self.errors]


@dataclass
class RecordSyncReport:
    files: list[FileSyncResult] = field(default_factory=list)
    dry_run: bool = False

    def by_status(self, status: FileStatus) -> list[FileSyncResult]:
        return [result for result in self.files if result.status == status]

    @property
    def added(self) -> list[FileSyncResult]:
        return self.by_status("added")

    @property
    def updated(self) -> list[FileSyncResult]:
        return self.by_status("updated")

    @property
    def unchanged(self) -> list[FileSyncResult]:
        return self.by_status("unchanged")

    @property
    def deleted(self) -> list[FileSyncResult]:
        return self.by_status("deleted")

    @property
    def failed(self) -> list[FileSyncResult]:
        return self.by_status("failed")

    @property
    def errors(self) -> list[RecordError]:
        return [error for result in self.files for error in result.errors]

    def summary(self) -> dict[str, int]:
        return {
            status: len(self.by_status(status)) for status in ("added", "updated", "unchanged", "deleted", "failed")
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            **self.summary(),
            "files": [
                {"path": r.path, "status": r.status, "records": r.records, "reasons": r.reasons} for r in self.files
            ],
        }


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _relative(path: Path, corpus_root: Path) -> str:
    try:
        return path.resolve().relative_to(corpus_root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def delete_file_records(session: Session, relative_path: str) -> int:
    """Delete every record loaded from one record file (children go with their parents)."""
    removed = 0
    for model in RECORD_MODELS.values():
        for record in session.scalars(select(model).where(model.record_file == relative_path)):
            session.delete(record)
            removed += 1
    session.flush()
    return removed


# ---------------------------------------------------------------- cross-record checks


class LoadContext:
    """What the rest of the database holds, seen from one file being loaded (or one draft being accepted, which
    ``records.review`` checks as a file of its own with :func:`reference_problems`)."""

    def __init__(self, session: Session, relative_path: str, parsed: ParsedFile) -> None:
        self.ward_ids = {name: ward_id for ward_id, name in session.execute(select(Ward.id, Ward.name))}
        self.other_ids: dict[str, dict[str, str]] = {}
        for type_name, model in RECORD_MODELS.items():
            rows = session.execute(select(model.id, model.record_file).where(model.record_file != relative_path))
            self.other_ids[type_name] = {record_id: path for record_id, path in rows}
        self.other_blocks = {
            name: (block_id, path)
            for block_id, name, path in session.execute(
                select(Block.id, Block.name, Block.record_file).where(Block.record_file != relative_path)
            )
        }
        self.other_block_of_ward = {
            ward: block
            for ward, block in session.execute(
                select(Ward.name, Block.name)
                .join(BlockWard, BlockWard.ward_id == Ward.id)
                .join(Block, Block.id == BlockWard.block_id)
                .where(Block.record_file != relative_path)
            )
        }
        own = [r for r in parsed.records]
        self.own_ids = {t: {r.data.id for r in own if r.type == t} for t in RECORD_MODELS}
        self.own_blocks = {r.data.name for r in own if isinstance(r.data, BlockIn)}

    def event_exists(self, event_id: str) -> bool:
        return event_id in self.own_ids["event"] or event_id in self.other_ids["event"]

    def block_exists(self, name: str) -> bool:
        return name in self.own_blocks or name in self.other_blocks


def reference_problems(record: ParsedRecord, ctx: LoadContext) -> list[tuple[str, str]]:
    """(field, message) for ids already used elsewhere and references that lead nowhere."""
    data = record.data
    problems: list[tuple[str, str]] = []
    if data.id in ctx.other_ids[record.type]:
        problems.append(("id", f"id {data.id!r} is already defined in {ctx.other_ids[record.type][data.id]}"))
    if isinstance(data, BlockIn):
        if data.name in ctx.other_blocks:
            problems.append(("name", f"block {data.name!r} is already defined in {ctx.other_blocks[data.name][1]}"))
        for ward in data.wards:
            if ward in ctx.other_block_of_ward:
                problems.append(("wards", f"{ward} already belongs to {ctx.other_block_of_ward[ward]}"))
    if isinstance(data, EventIn):
        for name in data.blocks:
            if not ctx.block_exists(name):
                known = sorted(ctx.own_blocks | set(ctx.other_blocks))
                problems.append(("blocks", f"unknown block {name!r} (known: {', '.join(known) or 'none'})"))
        if data.parent and not ctx.event_exists(data.parent):
            problems.append(("parent", f"unknown event {data.parent!r}"))
    if isinstance(data, SurveyIn | OnboardingStepIn) and data.event and not ctx.event_exists(data.event):
        problems.append(("event", f"unknown event {data.event!r}"))
    return problems


def _block_ward_clashes(records: list[ParsedRecord]) -> list[tuple[ParsedRecord, str]]:
    seen: dict[str, str] = {}
    clashes: list[tuple[ParsedRecord, str]] = []
    for record in records:
        if isinstance(record.data, BlockIn):
            for ward in record.data.wards:
                if ward in seen:
                    clashes.append((record, f"{ward} is also listed in {seen[ward]}"))
                seen[ward] = record.data.name
    return clashes


# ---------------------------------------------------------------- building ORM rows


def _provenance(record: ParsedRecord, relative_path: str) -> dict[str, str]:
    return {
        "record_file": relative_path,
        "document_id": record.document_id,
        "section": record.data.section,
        "quote": record.data.quote,
    }


def _build_block(data: BlockIn, common: dict[str, str], ctx: LoadContext) -> Block:
    block = Block(id=data.id, name=data.name, fiscal_year=data.fiscal_year, **common)
    block.members = [BlockWard(ward_id=ctx.ward_ids[ward], ordinal=i) for i, ward in enumerate(data.wards)]
    return block


def _build_event(data: EventIn, common: dict[str, str], ctx: LoadContext) -> Event:
    start, end = data.time if data.time else (None, None)
    lecturer = data.lecturer
    event = Event(
        id=data.id,
        kind=data.kind,
        title=data.title,
        part=data.part,
        parent_id=data.parent,
        theme=data.theme,
        programme=list(data.programme),
        fiscal_year=data.resolved_fiscal_year,
        date=data.date,
        start_time=start,
        end_time=end,
        recurrence=data.recurrence,
        status=data.status,
        venue=data.venue,
        area=data.area,
        lecturer_name=lecturer.name if lecturer else None,
        lecturer_title=lecturer.title if lecturer else None,
        lecturer_affiliation=lecturer.affiliation if lecturer else None,
        audience=data.audience,
        note=data.note,
        **common,
    )
    event.blocks = [EventBlock(block_name=name, ordinal=i) for i, name in enumerate(data.blocks)]
    links = [(ward, "audience") for ward in data.wards] + [(ward, "presenter") for ward in data.presenter_wards]
    event.wards = [EventWard(ward_id=ctx.ward_ids[w], role=role, ordinal=i) for i, (w, role) in enumerate(links)]
    event.counts = [
        ParticipantCount(ordinal=i, group=p.group, count=p.count, unit=p.unit, subset_of=p.subset_of, quote=p.quote)
        for i, p in enumerate(data.participants)
    ]
    return event


def _build_survey(data: SurveyIn, common: dict[str, str]) -> Survey:
    survey = Survey(
        id=data.id,
        event_id=data.event,
        title=data.title,
        fiscal_year=data.fiscal_year,
        target=data.target,
        responses=data.responses,
        response_rate=data.response_rate,
        note=data.note,
        **common,
    )
    survey.questions = [
        SurveyQuestion(
            ordinal=i,
            text=q.text,
            quote=q.quote,
            options=[SurveyOption(ordinal=j, label=o.label, count=o.count) for j, o in enumerate(q.options)],
        )
        for i, q in enumerate(data.questions)
    ]
    return survey


def build_record(record: ParsedRecord, ordinal: int, relative_path: str, ctx: LoadContext) -> Record:
    """The ORM object (with its children) for one checked record loaded from ``relative_path``; the loader and
    an accepted draft (``records.review``) build records this way. ``ordinal`` orders it among its file's."""
    common = _provenance(record, relative_path)
    data = record.data
    if isinstance(data, BlockIn):
        return _build_block(data, common, ctx)
    if isinstance(data, EventIn):
        return _build_event(data, common, ctx)
    if isinstance(data, SurveyIn):
        return _build_survey(data, common)
    if isinstance(data, FindingIn):
        ward_id = ctx.ward_ids[data.ward] if data.ward else None
        return Finding(
            id=data.id, subject=data.subject, ward_id=ward_id, category=data.category,
            fiscal_year=data.fiscal_year, period=data.period, text=data.text, **common,
        )  # fmt: skip
    if isinstance(data, OnboardingStepIn):
        return OnboardingStep(
            id=data.id, ordinal=data.ordinal if data.ordinal is not None else ordinal, timing=data.timing,
            description=data.description, fiscal_year=data.fiscal_year, date=data.date, event_id=data.event, **common,
        )  # fmt: skip
    if isinstance(data, SupportActivityIn):
        start, end = data.period_range
        return SupportActivity(
            id=data.id, target=data.target, title=data.title, period=data.period, period_start=start,
            period_end=end, wards_count=data.wards_count, content=data.content, note=data.note, **common,
        )  # fmt: skip
    raise TypeError(f"unknown record type {type(data).__name__}")


# ---------------------------------------------------------------- sync


def _checked_records(parsed: ParsedFile, ctx: LoadContext) -> tuple[list[ParsedRecord], list[RecordError]]:
    errors: list[RecordError] = []
    bad: set[int] = set()
    for record, message in _block_ward_clashes(parsed.records):
        errors.append(RecordError(parsed.relative_path, message, record.line, record.label, "wards"))
        bad.add(id(record))
    for record in parsed.records:
        for field_name, message in reference_problems(record, ctx):
            errors.append(RecordError(parsed.relative_path, message, record.line, record.label, field_name))
            bad.add(id(record))
    return [r for r in parsed.records if id(r) not in bad], errors


def _write_file(
    session: Session, parsed: ParsedFile, sha256: str, existing: RecordFile | None
) -> tuple[int, list[RecordError]]:
    ctx = LoadContext(session, parsed.relative_path, parsed)
    records, reference_errors = _checked_records(parsed, ctx)
    errors = parsed.errors + reference_errors
    delete_file_records(session, parsed.relative_path)
    ordinals: dict[str, int] = {}
    # parents before their parts, so a database checking references immediately is satisfied
    for record in sorted(records, key=lambda r: getattr(r.data, "parent", None) is not None):
        ordinals[record.type] = ordinals.get(record.type, 0) + 1
        session.add(build_record(record, ordinals[record.type], parsed.relative_path, ctx))
    row = existing or RecordFile(path=parsed.relative_path)
    row.document_id = parsed.document_id
    row.sha256 = None if errors else sha256  # a file with errors is re-checked (and re-reported) next time
    row.record_count = len(records)
    row.error_count = len(errors)
    row.loaded_at = datetime.now(UTC)
    session.add(row)
    session.flush()
    return len(records), errors


def sync_record_file(
    session: Session, path: Path, corpus_root: Path, *, text_loader: DocumentTextLoader = read_document_text
) -> FileSyncResult:
    """Bring one file's records up to date inside the caller's transaction."""
    relative = _relative(path, corpus_root)
    try:
        sha256 = file_sha256(path)
    except OSError as exc:
        return FileSyncResult(relative, "failed", reason=f"cannot read {relative}: {exc}")
    existing = session.get(RecordFile, relative)
    if existing is not None and existing.sha256 == sha256:
        return FileSyncResult(relative, "unchanged", records=existing.record_count)
    parsed = parse_record_file(path, corpus_root, text_loader)
    if parsed.fatal:
        kept = " (the records loaded from its previous version are kept)" if existing else ""
        return FileSyncResult(
            relative, "failed", errors=tuple(parsed.errors), reason=f"{relative} was not loaded{kept}"
        )
    count, errors = _write_file(session, parsed, sha256, existing)
    if errors:
        reason = f"{len(errors)} record error(s); {count} valid record(s) loaded"
        return FileSyncResult(relative, "failed", records=count, errors=tuple(errors), reason=reason)
    return FileSyncResult(relative, "updated" if existing else "added", records=count)


def _delete_missing(session: Session, present: set[str]) -> list[FileSyncResult]:
    results: list[FileSyncResult] = []
    for row in session.scalars(select(RecordFile).order_by(RecordFile.path)).all():
        if row.path not in present:
            removed = delete_file_records(session, row.path)
            session.delete(row)
            results.append(FileSyncResult(row.path, "deleted", records=removed))
    session.flush()
    return results


def sync_record_files(
    engine: Engine,
    files: Sequence[Path],
    corpus_root: Path,
    *,
    full: bool = False,
    dry_run: bool = False,
    text_loader: DocumentTextLoader = read_document_text,
) -> RecordSyncReport:
    """Load ``files`` (record files under ``corpus_root``); each file commits on its own.

    ``full=True`` also deletes the records of record files that are no longer in ``files``.
    ``dry_run=True`` validates and reports what would change, writing nothing.
    """
    report = RecordSyncReport(dry_run=dry_run)
    for path in files:
        with Session(engine) as session:
            try:
                result = sync_record_file(session, Path(path), corpus_root, text_loader=text_loader)
            except Exception:
                session.rollback()
                raise
            _finish(session, dry_run)
        report.files.append(result)
    if full:
        present = {_relative(Path(path), corpus_root) for path in files}
        with Session(engine) as session:
            report.files.extend(_delete_missing(session, present))
            _finish(session, dry_run)
    return report


def _finish(session: Session, dry_run: bool) -> None:
    if dry_run:
        session.rollback()
    else:
        session.commit()
