"""``POST /api/feedback`` (readers' 👍/👎, no token) and the admin's view of refusals and 👎 answers.

The rules (which turn, what is stored, how questions are grouped, the CSV) live in ``assistant.feedback``.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import AdminOnly, FeedbackRateLimited, StateDep
from api.errors import ApiError
from api.inputs import control_character_problem
from api.schemas import ADMIN_RESPONSES, ERROR_RESPONSES
from assistant.feedback import FeedbackRequest, answer_settings, export_rows, quality_view, record_feedback, write_csv

router = APIRouter(
    prefix="/api/feedback", tags=["feedback"], dependencies=[FeedbackRateLimited], responses=ERROR_RESPONSES
)
admin_router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[AdminOnly], responses=ADMIN_RESPONSES)


@router.post("", status_code=201, summary="回答への評価（👍/👎） / rate an answer")
def post_feedback(body: FeedbackRequest, state: StateDep) -> dict[str, Any]:
    if body.comment and (problem := control_character_problem(body.comment, "コメント", "comment")):
        raise ApiError(422, *problem)
    settings = answer_settings(state.settings, state.kb.model_name)
    return {"feedback": record_feedback(state.assistant.memory, body, settings)}


@admin_router.get("/feedback", summary="回答できなかった質問と 👎 の回答（似た質問ごと） / content gaps")
def feedback_view(state: StateDep) -> dict[str, Any]:
    return quality_view(state.assistant.memory)


@admin_router.get(
    "/feedback.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 (BOM 付き) の CSV"}},
    summary="評価と回答できなかった質問の CSV / ratings and refusals as CSV",
)
def feedback_csv(state: StateDep) -> Response:
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads the Japanese text as UTF-8 only with a BOM
    write_csv(export_rows(state.assistant.memory), out)
    name = f"renkei-feedback-{datetime.now(UTC):%Y%m%d}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
