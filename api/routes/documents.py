"""Admin documents (Bearer ``RENKEI_ADMIN_TOKEN``): upload, list, delete to the trash, restore.

``POST /api/admin/documents`` (multipart, field ``file``) stores the document in the corpus's uploads
folder and starts an ingest run; ``GET`` lists every document with its state; ``DELETE …/{document_id}``
(``?remove_records=true`` also drops records accepted from its drafts) moves it to the trash;
``POST …/trash/{trash_id}/restore`` puts it back and starts an ingest run. The rules live in
``ingest.uploads`` and ``ingest.documents``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, UploadFile
from starlette.concurrency import run_in_threadpool

from api.deps import AdminOnly, StateDep
from api.routes.sources import check_document_id
from api.schemas import ADMIN_RESPONSES, DocumentDeleted, DocumentList, DocumentRestored, DocumentUploaded
from ingest.documents import delete_document, list_documents, restore_document
from ingest.uploads import store_upload

router = APIRouter(prefix="/api/admin/documents", tags=["admin"], dependencies=[AdminOnly], responses=ADMIN_RESPONSES)


@router.post(
    "",
    status_code=202,
    response_model=DocumentUploaded,
    summary="資料をアップロードして取り込む / upload a document and ingest it",
)
async def upload(file: UploadFile, state: StateDep) -> DocumentUploaded:
    state.ingest_jobs.ensure_idle()  # before anything is written
    settings = state.settings
    data = await file.read(settings.http.upload_max_bytes + 1)
    stored = await run_in_threadpool(
        store_upload, settings.storage.corpus_dirs, file.filename, data, settings.http.upload_max_bytes
    )
    job = state.ingest_jobs.start()
    return DocumentUploaded(
        document_id=stored.document_id, kind=stored.kind, size=stored.size, sha256=stored.sha256, run_id=job.run_id
    )


@router.get("", response_model=DocumentList, summary="資料の一覧と状態 / every document and its state")
def documents(state: StateDep) -> DocumentList:
    state.kb.refresh()
    items = list_documents(state.kb, state.records_engine)
    return DocumentList(count=len(items), documents=[item.to_dict() for item in items])


@router.delete(
    "/{document_id:path}", response_model=DocumentDeleted, summary="資料をごみ箱へ / move a document to the trash"
)
def delete(
    document_id: str,
    state: StateDep,
    remove_records: Annotated[
        bool, Query(description="採用済みの記録も削除する / also remove records accepted from its drafts")
    ] = False,
) -> DocumentDeleted:
    check_document_id(document_id)
    state.ingest_jobs.ensure_idle()
    with state.writer_kb() as kb:
        result = delete_document(kb, state.records_engine, document_id, remove_records=remove_records)
    state.kb.refresh()
    return DocumentDeleted.model_validate(result)


@router.post(
    "/trash/{trash_id}/restore",
    status_code=202,
    response_model=DocumentRestored,
    summary="ごみ箱から戻して取り込む / restore and ingest",
)
def restore(trash_id: str, state: StateDep) -> DocumentRestored:
    state.ingest_jobs.ensure_idle()
    entry = restore_document(state.kb, trash_id)
    job = state.ingest_jobs.start()
    return DocumentRestored(document_id=entry.document_id, run_id=job.run_id)
