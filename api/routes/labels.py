"""What the page loads at start, each defined once on the server: ``GET /api/labels``, the Japanese labels of the
codes the API returns (from where each is defined), and ``GET /api/limits``, what a request may hold."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from assistant.feedback import VOCABULARY
from assistant.schemas import max_message_chars
from ingest.report import LABELS
from records.event_kinds import EVENT_KINDS
from records.models import DRAFT_STATUSES, EVENT_STATUSES

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/labels", summary="コードの日本語ラベル / Japanese labels of the API's codes")
def labels() -> dict[str, Any]:
    return {
        **LABELS,
        "event_kinds": EVENT_KINDS,
        "event_statuses": EVENT_STATUSES,
        "draft_statuses": DRAFT_STATUSES,
        "feedback_ratings": VOCABULARY.ratings,
        "feedback_reasons": VOCABULARY.reasons,
        "gap_kinds": VOCABULARY.item_kinds,
    }


@router.get("/limits", summary="入力の上限 / the limits on what a request may hold")
def limits() -> dict[str, int]:
    return {"max_message_chars": max_message_chars()}
