"""``POST /api/chat`` and ``POST /api/chat/stream`` (Server-Sent Events)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import AssistantDep, RateLimited
from api.errors import ApiError
from api.inputs import message_problem
from api.schemas import ERROR_RESPONSES
from assistant.schemas import ChatAnswer, ChatRequest, StreamEvent

log = logging.getLogger("renkei.api")
router = APIRouter(prefix="/api/chat", tags=["chat"], dependencies=[RateLimited])

CHAT_EXAMPLES: dict[str, dict[str, Any]] = {
    "lecturer": {
        "summary": "研修会の講師を尋ねる",
        "value": {"message": "北ブロックの研修会の講師は？"},
    },
    "my_ward": {
        "summary": "自分の区の研修日（区と基準日を指定）",
        "value": {"message": "私の区の研修はいつ？", "ward": "鶴見区", "as_of": "2023-09-01"},
    },
    "how_to": {
        "summary": "新任コーディネーターの質問",
        "value": {"message": "新任のコーディネーターは採用されたらまず何をしてもらえますか"},
    },
}
ChatBody = Annotated[ChatRequest, Body(openapi_examples=CHAT_EXAMPLES)]

_END = object()


@router.post(
    "",
    response_model=ChatAnswer,
    responses=ERROR_RESPONSES,
    summary="質問に引用付きで答える / answer a question with citations",
)
def chat(request: ChatBody, assistant: AssistantDep) -> ChatAnswer:
    check_message(request)
    return assistant.answer(request)


def check_message(request: ChatRequest) -> None:
    problem = message_problem(request.message)
    if problem is not None:
        raise ApiError(422, *problem)


def sse(event: StreamEvent) -> bytes:
    """One Server-Sent Event; ``delta`` text is wrapped as ``{"text": ...}``."""
    data = event.data
    if event.event == "delta" and isinstance(data, str):
        data = {"text": data}
    payload = json.dumps(jsonable_encoder(data), ensure_ascii=False)
    return f"event: {event.event}\ndata: {payload}\n\n".encode()


def _next(events: Iterator[StreamEvent]) -> StreamEvent | object:
    return next(events, _END)


async def _stream(request: Request, events: Iterator[StreamEvent], first: StreamEvent | object) -> AsyncIterator[bytes]:
    """Relay the assistant's events; the synchronous generator runs in worker threads, one step at a time."""
    event = first
    try:
        while event is not _END:
            assert isinstance(event, StreamEvent)
            yield sse(event)
            if await request.is_disconnected():
                log.info("chat stream: client went away")
                return
            event = await run_in_threadpool(_next, events)
    except Exception:  # the status line has been sent; report the error as an event
        log.exception("chat stream failed")
        yield sse(
            StreamEvent(
                event="error", data={"code": "internal_error", "message": "回答の生成中にエラーが発生しました。"}
            )
        )
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            with contextlib.suppress(ValueError):  # still running in a worker thread after a cancellation
                close()


@router.post(
    "/stream",
    responses={
        **ERROR_RESPONSES,
        200: {"content": {"text/event-stream": {}}, "description": "delta… citations records done"},
    },
    summary="回答をストリーミング (SSE) / stream the answer as Server-Sent Events",
)
async def chat_stream(request: Request, body: ChatBody, assistant: AssistantDep) -> StreamingResponse:
    check_message(body)
    events: Iterator[StreamEvent] = await run_in_threadpool(lambda: iter(assistant.stream(body)))
    # The first step runs before the response starts, so bad input (e.g. an unknown ward) still gets a 4xx.
    first = await run_in_threadpool(_next, events)
    if first is _END:
        raise ApiError(500, "internal_error", "the assistant produced no answer")
    return StreamingResponse(
        _stream(request, events, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
