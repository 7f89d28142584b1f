"""``GET /api/conversations/{id}``: the kept turns of a conversation, for the page's history list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import RateLimited, StateDep
from api.errors import ApiError
from api.schemas import ERROR_RESPONSES, ConversationTurns
from assistant.feedback import ratings_of
from assistant.schemas import CONVERSATION_ID_PATTERN

router = APIRouter(prefix="/api/conversations", tags=["chat"], dependencies=[RateLimited], responses=ERROR_RESPONSES)


@router.get("/{conversation_id}", response_model=ConversationTurns, summary="会話の履歴 / the turns of a conversation")
def conversation(
    conversation_id: Annotated[str, Path(pattern=CONVERSATION_ID_PATTERN)], state: StateDep
) -> ConversationTurns:
    turns = state.assistant.memory.turns(conversation_id)
    if turns is None:
        raise ApiError(
            404,
            "conversation_not_found",
            "この会話は見つかりません（削除されたか、別のサーバーの会話です）。 / No such conversation.",
        )
    ratings = ratings_of(state.records_engine, conversation_id)
    return ConversationTurns(
        conversation_id=conversation_id,
        title=turns[0].message if turns else "",
        turns=[{**turn.to_dict(), "rating": ratings.get(turn.turn)} for turn in turns],
    )
