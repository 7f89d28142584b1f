"""The ingest run: files → parse → chunk → (Chroma, BM25, catalog) and record files → SQL records.

Write order, which is what makes a ``kill -9`` at any moment safe:
1. new chunks are ADDED to Chroma and to the lexical index (nothing is removed yet);
2. the catalog commits, in one transaction, which chunks each changed document now has;
3. chunks no longer in the catalog are removed from Chroma and the lexical index.
Retrieval only returns chunks the catalog lists, so readers see either the old or the new version of a
document, never a mix; a killed run leaves extra chunks that step 3 of the next run removes.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import yaml

from ingest.chunking import chunk_document
from ingest.discovery import Discovery, discover, sidecar_of
from ingest.locking import ingest_lock
from ingest.metadata import document_id_for, infer_metadata, read_sidecar
from ingest.parsers import ParseError, UnsupportedFileType, check_file_size, parse_file
from ingest.report import FileOutcome, IngestReport, NoProgress, Progress, Status
from knowledge.base import KnowledgeBase, ward_flags
from knowledge.catalog import Catalog
from knowledge.types import Chunk, DocumentInfo

BATCH_DOCUMENTS = 32
FILE_ERRORS_KEY = "file_errors"
EMBED_BATCH = 64


@dataclass
class PreparedDocument:
    path: Path
    info: DocumentInfo
    chunks: list[Chunk]
    status: str  # added | updated


def file_errors(catalog: Catalog) -> dict[str, dict[str, str]]:
    """The latest ingest failure of each document that failed (document id → stage, reason, at)."""
    stored = catalog.state(FILE_ERRORS_KEY)
    loaded = json.loads(stored) if stored else {}
    return loaded if isinstance(loaded, dict) else {}


class IngestHooks:
    """The points a run reports as it passes them, for fault injection: :meth:`reached` is called at each stage
    (``parse``, ``embed``, ``vector_write``, ``catalog``, ``records``). These hooks do nothing; a test passes its
    own to :class:`IngestRun` (or ``renkei`` through ``app(obj=...)``), e.g. one that pauses so it can kill there."""

    def reached(self, stage: str) -> None:
        """The run is at ``stage`` (before that stage's writes)."""


NO_HOOKS = IngestHooks()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    sidecar = sidecar_of(path)
    if sidecar.is_file():
        digest.update(sidecar.read_bytes())
    return digest.hexdigest()


def prepare_document(path: Path, root: Path, sha256: str) -> tuple[DocumentInfo, list[Chunk]]:
    document_id = document_id_for(path, root)
    parsed = parse_file(path)
    text = parsed.text
    if not text.strip():
        raise ParseError("the document has no text", stage="parse")
    front_matter = {**parsed.front_matter, **read_sidecar(path)}
    meta = infer_metadata(document_id, text, front_matter, title=parsed.title)
    info = DocumentInfo(
        document_id=document_id,
        title=meta.title,
        doc_type=meta.doc_type,
        sha256=sha256,
        text=text,
        fiscal_year=meta.fiscal_year,
        wards=tuple(meta.wards),
        source_path=str(path),
        page_count=len(parsed.pages) or None,
    )
    chunks = chunk_document(document_id, text, parsed.pages)
    return info, chunks


def _indexed(info: DocumentInfo, chunk: Chunk) -> Chunk:
    """The chunk with the metadata both indexes store and filter on (``KnowledgeBase.index_filters``)."""
    from ingest.metadata import wards_mentioned

    chunk_wards = wards_mentioned(chunk.text)
    metadata = {
        "doc_type": info.doc_type,
        "fiscal_year": info.fiscal_year,
        "section": chunk.section,
        "wards": ",".join(chunk_wards),
        **ward_flags(chunk_wards),
    }
    return replace(chunk, metadata={key: value for key, value in metadata.items() if value is not None})


class IngestRun:
    def __init__(self, kb: KnowledgeBase, progress: Progress | None = None, hooks: IngestHooks = NO_HOOKS) -> None:
        self.kb = kb
        self.progress = progress or NoProgress()
        self.hooks = hooks

    def run(
        self,
        paths: Sequence[Path] | None = None,
        *,
        full: bool = False,
        dry_run: bool = False,
        rebuild: bool = False,
    ) -> IngestReport:
        started = time.perf_counter()
        settings = self.kb.settings
        report = IngestReport(run_id=uuid.uuid4().hex[:12], dry_run=dry_run)
        with ingest_lock(self.kb):
            if rebuild and not dry_run:
                self.kb.reset()
            for discovery in self._discoveries(paths or settings.storage.corpus_dirs):
                changed = self._ingest_documents(discovery, report, full=full or rebuild, dry_run=dry_run)
                self._sync_records(discovery, report, full=full or rebuild, dry_run=dry_run)
                if not dry_run:
                    self._propose_records(changed, report)
            if not dry_run:
                report.chunks_removed += self._remove_orphans()
                self._remember_file_errors(report)
                self.kb.catalog.set_state("last_ingest", datetime.now(UTC).isoformat(timespec="seconds"))
        report.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def remove(self, document_ids: Sequence[str], *, first: Callable[[], None] = lambda: None) -> int:
        """Take documents out of the catalog and both indexes now; returns the chunks removed.

        ``first`` runs once the ingest lock is held (the caller moves the files away there), so no ingest
        can see a file gone while its chunks are still listed. Same write order as a run: the catalog
        commit, then the chunks it no longer lists. Raises ``IngestAlreadyRunning`` before ``first`` runs.
        """
        with ingest_lock(self.kb):
            first()
            self.kb.catalog.commit((), document_ids)
            return self._remove_orphans()

    def _remember_file_errors(self, report: IngestReport) -> None:
        """Keep each document's latest failure (by document id) for the admin's document list."""
        errors = file_errors(self.kb.catalog)
        for outcome in report.files:
            if outcome.kind != "document" or outcome.document_id is None:
                continue
            if outcome.status in ("failed", "skipped"):
                errors[outcome.document_id] = {
                    "stage": outcome.stage or "",
                    "reason": outcome.reason or "",
                    "at": report.started_at,
                }
            else:
                errors.pop(outcome.document_id, None)
        self.kb.catalog.set_state(FILE_ERRORS_KEY, json.dumps(errors, ensure_ascii=False))

    # --- discovery -----------------------------------------------------------------------------
    @staticmethod
    def _discoveries(paths: Sequence[Path]) -> list[Discovery]:
        by_root: dict[Path, list[Path] | None] = {}
        for path in paths:
            if not path.exists():
                raise FileNotFoundError(f"no such file or directory: {path}")
            if path.is_dir():
                by_root[path.resolve()] = None
            else:
                files = by_root.setdefault(path.parent.resolve(), [])
                if files is not None:
                    files.append(path)
        return [discover(root, only) for root, only in by_root.items()]

    # --- documents -----------------------------------------------------------------------------
    def _ingest_documents(
        self, discovery: Discovery, report: IngestReport, *, full: bool, dry_run: bool
    ) -> list[DocumentInfo]:
        """Ingest the discovered documents; returns the ones added or updated."""
        for skipped in discovery.skipped:
            report.add(FileOutcome(str(skipped.path), "skipped", reason=skipped.reason, stage="discover"))
        known = self.kb.catalog.document_hashes()
        seen: set[str] = set()
        pending: list[PreparedDocument] = []
        changed: list[DocumentInfo] = []
        self.progress.stage("parse", len(discovery.documents))
        for path in discovery.documents:
            self.progress.advance()
            outcome = FileOutcome(str(path), "unchanged")
            try:
                outcome.document_id = document_id_for(path, discovery.root)
                seen.add(outcome.document_id)
                check_file_size(path)  # before hashing: a huge file is refused without reading it
                sha256 = file_sha256(path)
                if known.get(outcome.document_id) == sha256:
                    report.add(outcome)
                    continue
                self.hooks.reached("parse")
                info, chunks = prepare_document(path, discovery.root, sha256)
            except UnsupportedFileType as exc:
                report.add(FileOutcome(str(path), "skipped", outcome.document_id, stage=exc.stage, reason=exc.reason))
                continue
            except ParseError as exc:
                report.add(FileOutcome(str(path), "failed", outcome.document_id, stage=exc.stage, reason=exc.reason))
                continue
            except (OSError, ValueError, UnicodeError, yaml.YAMLError) as exc:
                report.add(FileOutcome(str(path), "failed", outcome.document_id, stage="parse", reason=str(exc)))
                continue
            status: Status = "updated" if outcome.document_id in known else "added"
            pending.append(PreparedDocument(path, info, chunks, status))
            changed.append(info)
            report.add(FileOutcome(str(path), status, info.document_id, chunks=len(chunks)))
            if len(pending) >= BATCH_DOCUMENTS and not dry_run:
                self._write(pending, (), report)
                pending = []
        deletions = sorted(set(known) - seen) if full else []
        for document_id in deletions:
            report.add(FileOutcome(document_id, "deleted", document_id))
        if not dry_run and (pending or deletions):
            self._write(pending, deletions, report)
        return changed

    def _write(self, prepared: Sequence[PreparedDocument], deletions: Sequence[str], report: IngestReport) -> None:
        self._add_to_indexes([(doc.info, chunk) for doc in prepared for chunk in doc.chunks], report)
        self.hooks.reached("catalog")
        self.kb.catalog.commit(((doc.info, doc.chunks) for doc in prepared), deletions)

    def _add_to_indexes(self, items: Sequence[tuple[DocumentInfo, Chunk]], report: IngestReport | None) -> None:
        """Add the chunks that Chroma or the lexical index lacks; never removes anything (see the module doc)."""
        in_vectors, in_lexical = self.kb.vectors.ids(), self.kb.lexical.ids()
        in_both = in_vectors & in_lexical
        pending = [_indexed(info, chunk) for info, chunk in items if chunk.chunk_id not in in_both]
        to_embed = [chunk for chunk in pending if chunk.chunk_id not in in_vectors]
        self.progress.stage("embed", len(to_embed))
        self.hooks.reached("embed")
        for offset in range(0, len(to_embed), EMBED_BATCH):
            part = to_embed[offset : offset + EMBED_BATCH]
            self.kb.vectors.write(part)
            if report is not None:
                report.chunks_embedded += len(part)
            self.progress.advance(len(part))
            self.hooks.reached("vector_write")
        to_tokenize = [chunk for chunk in pending if chunk.chunk_id not in in_lexical]
        if to_tokenize:
            self.progress.stage("lexical", len(to_tokenize))
            self.kb.lexical.write(to_tokenize)
            self.kb.lexical.save()
            self.progress.advance(len(to_tokenize))

    def _remove_orphans(self) -> int:
        """Remove chunks the catalog no longer lists (replaced, deleted, or left by a killed run)."""
        live = self.kb.catalog.live_chunk_ids()
        vector_orphans = sorted(self.kb.vectors.ids() - live)
        lexical_orphans = sorted(self.kb.lexical.ids() - live)
        if vector_orphans:
            self.kb.vectors.delete(vector_orphans)
        if lexical_orphans:
            self.kb.lexical.delete(lexical_orphans)
            self.kb.lexical.save()
        self._restore_missing(live)
        self.kb.refresh(force=True)
        return len(vector_orphans)

    def _restore_missing(self, live: set[str]) -> None:
        """Re-add live chunks missing from either index (e.g. an index directory removed by hand)."""
        missing = (live - self.kb.vectors.ids()) | (live - self.kb.lexical.ids())
        if not missing:
            return
        chunks = self.kb.chunks(sorted(missing))
        infos: dict[str, DocumentInfo] = {}
        for doc_id in {c.document_id for c in chunks.values()}:
            info = self.kb.document(doc_id)
            assert info is not None, f"catalog chunks of {doc_id} without their document"  # a foreign key
            infos[doc_id] = info
        items = [(infos[chunk.document_id], chunk) for _, chunk in sorted(chunks.items())]
        self._add_to_indexes(items, None)

    # --- records -------------------------------------------------------------------------------
    def _propose_records(self, changed: Sequence[DocumentInfo], report: IngestReport) -> None:
        """Draft records extracted from new or changed documents, for an admin to review; never live."""
        if not changed:
            return
        from records.drafts import propose_for_document

        engine = self.kb.engine
        self.progress.stage("extract", len(changed))
        for info in changed:
            try:
                report.drafts_proposed += propose_for_document(
                    engine, info.document_id, info.text, self.kb.settings.llm
                )
            except Exception as exc:  # noqa: BLE001 - a draft is a suggestion; it never fails an ingest
                report.warnings.append(f"{info.document_id}: record extraction failed: {exc}")
            self.progress.advance()

    def _sync_records(self, discovery: Discovery, report: IngestReport, *, full: bool, dry_run: bool) -> None:
        from knowledge.database import open_database
        from records.loader import sync_record_files

        if not discovery.record_files and not full:
            return
        self.hooks.reached("records")
        engine = open_database(self.kb.settings.storage.resolved_database_url)
        result = sync_record_files(engine, discovery.record_files, discovery.root, full=full, dry_run=dry_run)
        for item in result.files:
            failed = item.status == "failed"
            report.add(
                FileOutcome(
                    item.path,
                    item.status,
                    kind="records",
                    stage="records" if failed else None,
                    reason="; ".join(item.reasons) or None,
                )
            )
