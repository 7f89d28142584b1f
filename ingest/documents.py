"""The admin's view of the corpus: every document with its state, deleting to a trash folder, restoring.

A document's state comes from three places: the catalog (indexed: chunks, pages, last ingest), the corpus
folders (a file the catalog does not hold is ``pending`` until an ingest reads it, or ``failed`` with the
reason the last ingest gave) and the trash. Deleting moves the file (and its ``.meta.yaml`` sidecar) into
``<corpus root>/.trash/<trash id>/`` — inside the corpus, so the move is one rename on one file system,
and in a dot-folder, so discovery never reads it — then takes its chunks out of the catalog and both
indexes and drops its pending record drafts. Restoring moves the file back; the caller then starts an
ingest, which indexes it again.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ingest.discovery import discover, is_document_path, sidecar_of
from ingest.errors import ActionRefused
from ingest.locking import IngestAlreadyRunning
from ingest.metadata import document_id_for
from ingest.pipeline import IngestRun, file_errors
from ingest.uploads import UPLOADS_DIR
from knowledge.base import KnowledgeBase

TRASH_DIR = ".trash"
ENTRY_FILE = "entry.json"
Status = Literal["indexed", "pending", "failed", "deleted"]


@dataclass
class DocumentState:
    document_id: str
    title: str
    status: Status
    doc_type: str | None = None
    fiscal_year: int | None = None
    chunks: int = 0
    pages: int | None = None
    last_ingest: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)  # the last ingest's failure: stage, reason, at
    pending_drafts: int = 0
    uploaded: bool = False
    trash_id: str | None = None
    deleted_at: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class TrashEntry:
    trash_id: str
    document_id: str
    title: str
    original: str  # absolute path the file had
    files: list[str]  # names inside the entry folder: the document, and its sidecar if it had one
    deleted_at: str


def _roots(kb: KnowledgeBase) -> list[Path]:
    return [root.resolve() for root in kb.settings.storage.corpus_dirs]


def _is_upload(document_id: str) -> bool:
    return document_id.startswith(f"{UPLOADS_DIR}/")


def trashed_file(root: Path, entry: TrashEntry) -> Path:
    """Where the trashed document's own file is (the first of the entry's files)."""
    return root / TRASH_DIR / entry.trash_id / entry.files[0]


def trash_entries(roots: list[Path]) -> list[TrashEntry]:
    entries: list[TrashEntry] = []
    for root in roots:
        for entry_file in sorted((root / TRASH_DIR).glob(f"*/{ENTRY_FILE}")):
            try:
                entry = TrashEntry(**json.loads(entry_file.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                continue  # a damaged entry is left for a person to look at, not listed
            if entry.trash_id == entry_file.parent.name and entry.files and all(Path(n).name == n for n in entry.files):
                entries.append(entry)
    return entries


def list_documents(kb: KnowledgeBase, records_engine: Engine) -> list[DocumentState]:
    """Indexed, pending, failed and deleted documents, by document id."""
    from records.review import pending_counts

    with Session(records_engine) as session:
        drafts = pending_counts(session)
    errors = file_errors(kb.catalog)
    states: dict[str, DocumentState] = {}
    for summary in kb.catalog.document_summaries():
        states[summary.document_id] = DocumentState(
            document_id=summary.document_id,
            title=summary.title,
            status="indexed",
            doc_type=summary.doc_type,
            fiscal_year=summary.fiscal_year,
            chunks=summary.chunks,
            pages=summary.pages,
            last_ingest=summary.updated_at.isoformat(timespec="seconds"),
        )
    for root in _roots(kb):
        if not root.is_dir():
            continue
        found = discover(root)
        for path in found.documents:
            document_id = document_id_for(path, found.root)
            if document_id not in states:
                states[document_id] = DocumentState(document_id=document_id, title=path.name, status="pending")
    for document_id, error in errors.items():
        state = states.get(document_id)
        if state is not None:
            state.errors.append(error)
            if state.status == "pending":
                state.status = "failed"
    for entry in trash_entries(_roots(kb)):
        if entry.document_id not in states:
            states[entry.document_id] = DocumentState(
                document_id=entry.document_id,
                title=entry.title,
                status="deleted",
                trash_id=entry.trash_id,
                deleted_at=entry.deleted_at,
            )
    for state in states.values():
        state.pending_drafts = drafts.get(state.document_id, 0)
        state.uploaded = _is_upload(state.document_id)
    return [states[key] for key in sorted(states)]


def _document_file(kb: KnowledgeBase, document_id: str) -> tuple[Path, Path]:
    """(corpus root, file) of a document id: a file discovery would ingest, inside a configured corpus."""
    for root in _roots(kb):
        candidate = (root / document_id).resolve()
        if (
            candidate.is_relative_to(root)
            and candidate.is_file()
            and is_document_path(Path(document_id))
            and document_id_for(candidate, root) == document_id
        ):
            return root, candidate
    raise ActionRefused(
        404, "document_not_found", f"資料が見つかりません: {document_id} / No document file for {document_id!r}."
    )


def delete_document(
    kb: KnowledgeBase, records_engine: Engine, document_id: str, *, remove_records: bool = False
) -> dict[str, object]:
    """Move the document's file to the trash, take it out of the indexes and drop its pending drafts."""
    from records.review import forget_document

    root, path = _document_file(kb, document_id)
    info = kb.catalog.document(document_id)
    trash_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    folder = root / TRASH_DIR / trash_id
    moved = [path] + ([sidecar_of(path)] if sidecar_of(path).is_file() else [])
    entry = TrashEntry(
        trash_id=trash_id,
        document_id=document_id,
        title=info.title if info else path.name,
        original=str(path),
        files=[item.name for item in moved],
        deleted_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )

    def move_to_trash() -> None:
        folder.mkdir(parents=True)
        (folder / ENTRY_FILE).write_text(json.dumps(asdict(entry), ensure_ascii=False, indent=2), encoding="utf-8")
        for item in moved:
            os.replace(item, folder / item.name)

    try:
        chunks_removed = IngestRun(kb).remove([document_id], first=move_to_trash)
    except IngestAlreadyRunning as exc:
        raise ActionRefused(409, "ingest_running", f"取り込みの実行中は削除できません。 / {exc}") from None
    with Session(records_engine) as session, session.begin():
        forgotten = forget_document(session, document_id, remove_records=remove_records)
    return {
        "document_id": document_id,
        "trash_id": trash_id,
        "chunks_removed": chunks_removed,
        "drafts_removed": forgotten["drafts"],
        "records_removed": forgotten["records"],
    }


def restore_document(kb: KnowledgeBase, trash_id: str) -> TrashEntry:
    """Move a trashed document back where it was (refused when a file took its place)."""
    entry = next((e for e in trash_entries(_roots(kb)) if e.trash_id == trash_id), None)
    if entry is None:
        raise ActionRefused(
            404, "trash_not_found", f"ごみ箱に {trash_id} はありません。 / No trash entry {trash_id!r}."
        )
    root, folder = next(
        (root, root / TRASH_DIR / trash_id) for root in _roots(kb) if (root / TRASH_DIR / trash_id).is_dir()
    )
    original = Path(entry.original).resolve()
    if not original.is_relative_to(root) or not is_document_path(original.relative_to(root)):
        raise ActionRefused(
            422,
            "invalid_trash_entry",
            f"ごみ箱の記録 {trash_id} が壊れています。 / The trash entry {trash_id!r} is damaged.",
        )
    if original.exists():
        raise ActionRefused(
            409,
            "restore_conflict",
            f"元の場所に同じ名前のファイルがあるため戻せません: {entry.document_id} / A file already exists at {entry.document_id}.",
        )
    original.parent.mkdir(parents=True, exist_ok=True)
    for name in entry.files:
        os.replace(folder / name, original.parent / (original.name if name == entry.files[0] else name))
    shutil.rmtree(folder)
    return entry
