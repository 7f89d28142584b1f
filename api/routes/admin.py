"""Admin endpoints: run an ingest in the background and watch it (Bearer ``RENKEI_ADMIN_TOKEN``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from api.deps import AdminOnly, IngestJob, IngestJobsDep
from api.errors import ApiError
from api.schemas import ADMIN_RESPONSES, IngestProgress, IngestRequest, IngestStarted, IngestStatus

router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[AdminOnly], responses=ADMIN_RESPONSES)


def job_status(job: IngestJob) -> IngestStatus:
    return IngestStatus(
        run_id=job.run_id,
        status=job.status,
        full=job.full,
        started_at=job.started_at,
        finished_at=job.finished_at,
        progress=IngestProgress(stage=job.stage, done=job.done, total=job.total),
        summary=job.summary,
        report=job.report,
        error=job.error,
    )


@router.post(
    "/ingest",
    status_code=202,
    response_model=IngestStarted,
    summary="取り込みを開始（バックグラウンド） / start an ingest in the background",
)
def start_ingest(jobs: IngestJobsDep, body: Annotated[IngestRequest | None, Body()] = None) -> IngestStarted:
    job = jobs.start(full=body.full if body else False)
    return IngestStarted(run_id=job.run_id, status=job.status)


@router.get(
    "/ingest/{run_id}", response_model=IngestStatus, summary="取り込みの進捗と結果 / ingest progress and report"
)
def ingest_status(run_id: str, jobs: IngestJobsDep) -> IngestStatus:
    job = jobs.get(run_id)
    if job is None:
        raise ApiError(404, "run_not_found", f"取り込み {run_id!r} は見つかりません。 / No ingest run {run_id!r}.")
    return job_status(job)
