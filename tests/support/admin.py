"""Helpers for the admin's and the reader's loop (uploads, documents, feedback, history) against ``loop_server``
(tests/api/conftest.py), one server per test module that asks for it.

It serves a copy of the ingested sample (uploads and deletes must not touch the shared sample server),
with a small upload limit so the "too large" cases stay cheap, and a feedback limit of
:data:`FEEDBACK_PER_MINUTE` per client. Tests that post feedback connect from their own loopback address
(:func:`client_from`), so each has its own budget.
"""

from __future__ import annotations

import io
import time
import zlib
from typing import Any

import httpx

from tests.support.server import ADMIN_TOKEN, Server

UPLOAD_LIMIT = 1_000_000
FEEDBACK_PER_MINUTE = 5
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

KITA_REPORT = """# 令和６年度 北ブロック 多職種連携研修会 実施報告

## 第1回 研修会

【日 時】 令和６年９月10日（火）14：00～16：00
【場 所】 北区民センター
講師：北野病院 地域医療連携室長 北野 一郎 氏

## 第2回 研修会

【日 時】 令和６年11月５日（火）13：30～15：30
【場 所】 都島区民センター
講師：都島在宅クリニック 院長 都島 花子 氏

## 第3回 研修会

【日 時】 令和７年１月21日（火）14：00～16：00
【場 所】 淀川区民センター
講師：淀川キリスト教病院 看護部長 淀川 三郎 氏
"""


def client_from(server: Server, host: str, **kwargs: Any) -> httpx.Client:
    """A client whose connections come from ``host`` (any 127.x.y.z address is this machine's loopback)."""
    return httpx.Client(
        base_url=server.base_url, timeout=60.0, transport=httpx.HTTPTransport(local_address=host), **kwargs
    )


def upload(client: httpx.Client, name: str, data: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post(
        "/api/admin/documents", files={"file": (name, data)}, headers=AUTH if headers is None else headers
    )


def wait_for_run(client: httpx.Client, run_id: str, timeout_s: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get(f"/api/admin/ingest/{run_id}", headers=AUTH).json()
        if status["status"] != "running":
            return status
        time.sleep(0.2)
    raise AssertionError(f"ingest {run_id} still running after {timeout_s} s")


def documents(client: httpx.Client) -> dict[str, dict[str, Any]]:
    response = client.get("/api/admin/documents", headers=AUTH)
    assert response.status_code == 200, response.text
    return {doc["document_id"]: doc for doc in response.json()["documents"]}


def pdf_with_stream(raw: bytes) -> bytes:
    """A one-page PDF whose content stream is ``raw``, Flate-compressed (a bomb when ``raw`` is huge and dull)."""
    compressed = zlib.compress(raw, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(compressed) + compressed + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()
