"""A tiny fake OpenAI-compatible chat server on 127.0.0.1 whose replies each test chooses (the fixtures
``server_instance`` and ``fake`` are in tests/conftest.py)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any


@dataclass
class FakeChatServer:
    """Serves POST /v1/chat/completions with ``reply``; records each request body."""

    reply: str = ""
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def received_messages(self) -> list[dict[str, str]]:
        assert len(self.requests) == 1
        return self.requests[0]["messages"]


def chat_handler(fake: FakeChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(body)
            if self.path != "/v1/chat/completions":
                self.send_error(404)
                return
            if fake.delay:
                time.sleep(fake.delay)
            payload = json.dumps(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": fake.reply}}
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            ).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        def log_message(self, *args: object) -> None:
            pass

    return Handler
