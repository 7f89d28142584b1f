"""Every error the API returns is JSON ``{"error": {"code", "message"}}`` with a fitting status.

Validation errors get messages in Japanese and English; unexpected exceptions are logged with their
traceback and answered with a plain 500 that reveals nothing of the server's internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("renkei.api")

BODY_PARSE_ERROR = "There was an error parsing the body"  # FastAPI's detail for a body json.loads cannot read
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error with a status, a stable machine-readable code and a human message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


# --- validation messages -------------------------------------------------------------------------------
def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def describe_validation_error(error: dict[str, Any]) -> tuple[str, str]:
    """(code, bilingual message) for one pydantic error."""
    kind = str(error.get("type", ""))
    field = _field_name(tuple(error.get("loc", ())))
    value = error.get("input")
    if field == "message" and kind == "string_too_long":
        length = len(value) if isinstance(value, str) else "?"
        max_chars = int(error["ctx"]["max_length"])  # the limit ChatRequest applied (string_too_long carries it)
        return "message_too_long", (
            f"メッセージは{max_chars:,}文字以内で入力してください（現在 {length:,} 文字）。"
            f" / The message must be at most {max_chars:,} characters (got {length:,})."
        )
    if field == "message" and kind in ("string_too_short", "missing"):
        return "message_empty", "メッセージを入力してください。 / The message must not be empty."
    if kind.startswith("date") or field in ("as_of", "from", "to"):
        return "invalid_date", (
            f"{field} は YYYY-MM-DD 形式の正しい日付にしてください（入力: {value!r}）。"
            f" / {field} must be a valid date in YYYY-MM-DD form (got {value!r})."
        )
    if kind == "missing":
        return "missing_field", f"{field} は必須です。 / The field {field} is required."
    if kind in ("model_attributes_type", "dict_type", "model_type") and field == "body":
        return (
            "invalid_body",
            "リクエスト本文は JSON オブジェクトにしてください。 / The request body must be a JSON object.",
        )
    if kind == "json_invalid":
        return "invalid_json", "リクエスト本文が正しい JSON ではありません。 / The request body is not valid JSON."
    return "validation_error", f"{field}: {error.get('msg', 'invalid value')}"


async def _validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    described = [describe_validation_error(error) for error in exc.errors()]
    if not described:
        return error_response(422, "validation_error", "invalid request")
    code = described[0][0]
    status = 400 if code == "invalid_json" else 422
    return error_response(status, code, " ".join(dict.fromkeys(message for _, message in described)))


async def _http_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = "見つかりません。 / Not found."
    if exc.status_code == 400 and message == BODY_PARSE_ERROR:  # invalid UTF-8, nesting too deep, ...
        code, message = (
            "invalid_json",
            "リクエスト本文が正しい JSON ではありません。 / The request body is not valid JSON.",
        )
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, headers=exc.headers)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500, "internal_error", "サーバー内部でエラーが発生しました。 / An internal error occurred; it has been logged."
    )


def _status_handler(status: int, code: str) -> Any:
    async def handler(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(status, code, str(exc))

    return handler


async def _coded_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Errors that carry their own ``status``, ``code`` and bilingual ``message`` (uploads, documents, feedback)."""
    from assistant.feedback import FeedbackError
    from ingest.errors import ActionRefused

    assert isinstance(exc, ActionRefused | FeedbackError), exc  # registered for these two only
    return error_response(exc.status, exc.code, exc.message)


def _domain_handlers() -> dict[type[Exception], Any]:
    """Bad input found by the assistant or the records queries: 4xx with their own message (close matches)."""
    from assistant.errors import InvalidRequest
    from assistant.errors import UnknownWardError as AssistantUnknownWard
    from assistant.feedback import FeedbackError
    from ingest.errors import ActionRefused
    from records.queries import RecordLookupError, UnknownBlockError, UnknownEventKindError, UnknownWardError

    return {
        AssistantUnknownWard: _status_handler(422, "unknown_ward"),
        InvalidRequest: _status_handler(422, "invalid_request"),
        UnknownWardError: _status_handler(422, "unknown_ward"),
        UnknownBlockError: _status_handler(422, "unknown_block"),
        UnknownEventKindError: _status_handler(422, "unknown_kind"),
        RecordLookupError: _status_handler(404, "not_found"),
        ActionRefused: _coded_handler,
        FeedbackError: _coded_handler,
    }


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(ApiError, _api_error_handler)
    for exc_type, handler in _domain_handlers().items():
        app.add_exception_handler(exc_type, handler)
    app.add_exception_handler(Exception, _unexpected_handler)
