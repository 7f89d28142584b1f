"""Admin review of extracted record drafts (Bearer ``RENKEI_ADMIN_TOKEN``).

``GET /api/admin/drafts`` lists drafts beside their source passage; ``POST …/{id}/accept`` (optional
JSON body of edited fields, e.g. ``{"venue": "…", "lecturer": {"name": "…"}}``) makes one a live record
(409 ``confirm_blocks`` when it names blocks not in the records: repeat with ``?create_blocks=true``);
``POST …/{id}/reject`` rejects it, so the same passage is not proposed again; ``POST …/accept-all``
(``{"min_confidence": 0.9}``) accepts every pending draft at or above a confidence.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from api.deps import AdminOnly, RecordsSessionDep
from api.errors import ApiError
from api.schemas import ADMIN_RESPONSES
from records.review import ReviewError, accept_all, accept_draft, get_draft, list_drafts, reject_draft

router = APIRouter(prefix="/api/admin/drafts", tags=["admin"], dependencies=[AdminOnly], responses=ADMIN_RESPONSES)

_STATUS = {"draft_not_found": 404, "draft_decided": 409, "invalid_draft": 422, "confirm_blocks": 409}


def _api_error(exc: ReviewError) -> ApiError:
    return ApiError(_STATUS.get(exc.code, 422), exc.code, str(exc))


@router.get("", summary="抽出された記録の候補 / extracted record drafts")
def drafts(
    session: RecordsSessionDep,
    status: Annotated[Literal["pending", "accepted", "rejected", "all"], Query()] = "pending",
    document_id: Annotated[str | None, Query(max_length=500)] = None,
    min_confidence: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
) -> dict[str, Any]:
    rows = list_drafts(
        session, status=None if status == "all" else status, document_id=document_id, min_confidence=min_confidence
    )
    return {"drafts": [draft.to_dict() for draft in rows]}


@router.post("/{draft_id}/accept", summary="候補を採用（編集可） / accept a draft, optionally edited")
def accept(
    draft_id: int,
    session: RecordsSessionDep,
    edits: Annotated[dict[str, Any] | None, Body()] = None,
    create_blocks: Annotated[
        bool,
        Query(description="候補が挙げる未登録のブロックを作成する / create blocks the draft names that do not exist"),
    ] = False,
) -> dict[str, Any]:
    try:
        record = accept_draft(session, draft_id, edits or {}, create_blocks=create_blocks)
    except ReviewError as exc:
        session.rollback()
        raise _api_error(exc) from None
    session.commit()
    return {"draft": get_draft(session, draft_id).to_dict(), "record": record}


@router.post("/{draft_id}/reject", summary="候補を却下 / reject a draft")
def reject(draft_id: int, session: RecordsSessionDep) -> dict[str, Any]:
    try:
        draft = reject_draft(session, draft_id)
    except ReviewError as exc:
        raise _api_error(exc) from None
    session.commit()
    return {"draft": draft.to_dict()}


class AcceptAllRequest(BaseModel):
    min_confidence: float = Field(
        ge=0.0, le=1.0, description="この信頼度以上の候補をすべて採用 / accept drafts at or above this"
    )


class AcceptAllFailure(BaseModel):
    id: int
    reason: str


class AcceptAllResult(BaseModel):
    min_confidence: float
    accepted: list[int]
    failed: list[AcceptAllFailure]
    counts: dict[str, int] = Field(description="accepted / failed")


@router.post(
    "/accept-all",
    response_model=AcceptAllResult,
    summary="信頼度以上の候補をすべて採用 / accept every pending draft at or above a confidence",
)
def accept_all_drafts(session: RecordsSessionDep, body: AcceptAllRequest) -> AcceptAllResult:
    accepted, failed = accept_all(session, body.min_confidence)
    session.commit()
    return AcceptAllResult(
        min_confidence=body.min_confidence,
        accepted=accepted,
        failed=[AcceptAllFailure(id=draft_id, reason=reason) for draft_id, reason in failed.items()],
        counts={"accepted": len(accepted), "failed": len(failed)},
    )
