"""Admin documents over HTTP against a real server: uploads (good and hostile), the list, trash and restore."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.support.admin import AUTH, KITA_REPORT, UPLOAD_LIMIT, documents, pdf_with_stream, upload, wait_for_run
from tests.support.server import Server

SAMPLE_TEXT = "osaka_r5_zaitaku_renkei_progress.txt"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


def corpus_files(server: Server) -> set[str]:
    """Every file under the corpus (hidden ones too), relative to it."""
    root = server.deployment.corpus
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def not_a_docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "a zip archive, not a Word document")
    return buffer.getvalue()


@pytest.fixture
def client(loop_server: Server) -> httpx.Client:
    return loop_server.client()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/admin/documents"),
        ("POST", "/api/admin/documents"),
        ("DELETE", f"/api/admin/documents/{SAMPLE_TEXT}"),
        ("POST", "/api/admin/documents/trash/20260101T000000-abcdef12/restore"),
        ("GET", "/api/admin/feedback"),
        ("GET", "/api/admin/feedback.csv"),
    ],
)
def test_admin_routes_refuse_a_missing_or_wrong_token(
    client: httpx.Client, loop_server: Server, method: str, path: str
) -> None:
    before = corpus_files(loop_server)
    files = (
        {"file": ("r.md", "# x\n\n本文です。".encode())} if method == "POST" and path.endswith("documents") else None
    )
    missing = client.request(method, path, files=files)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_token"
    wrong = client.request(method, path, files=files, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_token"
    assert corpus_files(loop_server) == before
    assert SAMPLE_TEXT in documents(client)


HOSTILE_UPLOADS = [
    pytest.param("report.pdf", PNG, 415, "content_mismatch", "PNG 画像", id="png-renamed-to-pdf"),
    pytest.param(
        "notes.txt",
        b"MZ\x90\x00\x03" + bytes(200),
        415,
        "content_mismatch",
        "テキストではありません",
        id="exe-renamed-to-txt",
    ),
    pytest.param("report.docx", not_a_docx(), 415, "content_mismatch", "zip 圧縮ファイル", id="zip-renamed-to-docx"),
    pytest.param(
        "report.md", pdf_with_stream(b"BT (x) Tj ET"), 415, "content_mismatch", "中身: PDF", id="pdf-renamed-to-md"
    ),
    pytest.param(
        "bomb.pdf", pdf_with_stream(b" " * 120_000_000), 422, "unreadable_document", "zip bomb", id="zip-bomb-pdf"
    ),
    pytest.param(
        "broken.pdf",
        b"%PDF-1.4\nthis is not a pdf body\n",
        422,
        "unreadable_document",
        "読み取れません",
        id="broken-pdf",
    ),
    pytest.param("empty.md", b"", 422, "empty_file", "空", id="zero-bytes"),
    pytest.param("big.txt", b"a" * (UPLOAD_LIMIT + 1), 413, "file_too_large", "大きすぎます", id="over-the-limit"),
    pytest.param(
        "huge.txt", b"a" * (UPLOAD_LIMIT + 200_000), 413, "payload_too_large", "大きすぎます", id="body-over-the-limit"
    ),
    pytest.param("../escape.md", "# x\n\n本文".encode(), 400, "invalid_filename", "..", id="dot-dot"),
    pytest.param(
        "uploads/../../escape.md", "# x\n\n本文".encode(), 400, "invalid_filename", "フォルダ", id="nested-dot-dot"
    ),
    pytest.param("..\\escape.md", "# x\n\n本文".encode(), 400, "invalid_filename", "フォルダ", id="backslash"),
    pytest.param("/etc/passwd.txt", b"root:x:0:0", 400, "invalid_filename", "フォルダ", id="absolute"),
    pytest.param(".hidden.md", "# x\n\n本文".encode(), 400, "invalid_filename", "使えない文字", id="hidden-name"),
    pytest.param("tool.exe", b"MZ" + bytes(100), 415, "unsupported_type", "取り込めません", id="unsupported-extension"),
    pytest.param("a.txt.meta.yaml", b"title: x\n", 415, "unsupported_type", "取り込めません", id="sidecar-name"),
    pytest.param(SAMPLE_TEXT, b"", 422, "empty_file", "空", id="empty-under-an-existing-name"),
]


@pytest.mark.parametrize(("name", "data", "status", "code", "words"), HOSTILE_UPLOADS)
def test_hostile_uploads_are_refused_with_a_clear_error_and_write_nothing(
    client: httpx.Client,
    loop_server: Server,
    name: str,
    data: bytes,
    status: int,
    code: str,
    words: str,
) -> None:
    before = corpus_files(loop_server)
    response = upload(client, name, data)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and words in error["message"], error
    assert corpus_files(loop_server) == before  # no file, no temporary file left behind
    assert client.get("/api/health").status_code == 200


def test_an_upload_without_the_token_is_refused_before_its_body_is_read(client: httpx.Client) -> None:
    big = b"a" * (UPLOAD_LIMIT + 200_000)  # over the body limit: only a check before reading answers 401 here
    for headers, code in (({}, "missing_token"), ({"Authorization": "Bearer nope"}, "invalid_token")):
        response = upload(client, "big.txt", big, headers=headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == code


def test_the_upload_route_takes_multipart_with_a_file_field_only(client: httpx.Client) -> None:
    as_json = client.post("/api/admin/documents", json={"file": "# x"}, headers=AUTH)
    assert as_json.status_code == 415 and "multipart/form-data" in as_json.json()["error"]["message"]
    no_file = client.post("/api/admin/documents", files={"document": ("a.md", "# x\n\n本文".encode())}, headers=AUTH)
    assert no_file.status_code == 422 and no_file.json()["error"]["code"] == "missing_field"


def test_a_duplicate_upload_names_the_document_it_repeats(client: httpx.Client, loop_server: Server) -> None:
    same = (loop_server.deployment.corpus / SAMPLE_TEXT).read_bytes()
    response = upload(client, "copy-of-the-report.txt", same)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_document"
    assert SAMPLE_TEXT in response.json()["error"]["message"]


def test_upload_ingest_delete_and_restore(client: httpx.Client, loop_server: Server) -> None:
    corpus = loop_server.deployment.corpus
    response = upload(client, "r6_kita_training.md", KITA_REPORT.encode())
    assert response.status_code == 202, response.text
    started = response.json()
    document_id = started["document_id"]
    assert document_id == "uploads/r6_kita_training.md" and started["kind"] == "text"
    assert (corpus / document_id).read_text(encoding="utf-8") == KITA_REPORT
    assert not [p for p in (corpus / "uploads").iterdir() if p.name.startswith(".")]

    status = wait_for_run(client, started["run_id"])
    assert status["status"] == "succeeded", status
    outcome = next(f for f in status["report"]["files"] if f["document_id"] == document_id)
    assert outcome["status"] == "added" and outcome["chunks"] >= 1
    row = documents(client)[document_id]
    assert row["status"] == "indexed" and row["uploaded"] and row["chunks"] == outcome["chunks"]
    assert row["title"].startswith("令和６年度 北ブロック") and row["fiscal_year"] == 2024
    assert row["pending_drafts"] == 3 and row["errors"] == [] and row["last_ingest"]

    again = upload(client, "another-name.md", KITA_REPORT.encode())
    assert again.status_code == 409 and document_id in again.json()["error"]["message"]
    taken = upload(client, "r6_kita_training.md", (KITA_REPORT + "\n追記\n").encode())
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "name_taken"

    drafts = client.get("/api/admin/drafts", params={"document_id": document_id}, headers=AUTH).json()["drafts"]
    kita = next(d for d in drafts if d["values"].get("venue") == "北区民センター")
    assert client.post(f"/api/admin/drafts/{kita['id']}/accept", headers=AUTH).status_code == 200
    assert client.get(f"/api/sources/{document_id}").status_code == 200

    deleted = client.delete(f"/api/admin/documents/{document_id}", headers=AUTH)
    assert deleted.status_code == 200, deleted.text
    result = deleted.json()
    assert (
        result["chunks_removed"] == outcome["chunks"]
        and result["drafts_removed"] == 2
        and result["records_removed"] == 0
    )
    assert not (corpus / document_id).exists()
    trashed = corpus / ".trash" / result["trash_id"] / "r6_kita_training.md"
    assert trashed.read_text(encoding="utf-8") == KITA_REPORT
    assert client.get(f"/api/sources/{document_id}").status_code == 404
    row = documents(client)[document_id]
    assert row["status"] == "deleted" and row["trash_id"] == result["trash_id"] and row["pending_drafts"] == 0
    venues = [e["venue"] for e in client.get("/api/records/events").json()["items"]]
    assert "北区民センター" in venues  # the accepted record stays
    in_trash = upload(client, "kita-again.md", KITA_REPORT.encode())
    assert in_trash.status_code == 409 and in_trash.json()["error"]["code"] == "duplicate_in_trash"
    assert document_id in in_trash.json()["error"]["message"]
    assert client.delete(f"/api/admin/documents/{document_id}", headers=AUTH).status_code == 404

    restored = client.post(f"/api/admin/documents/trash/{result['trash_id']}/restore", headers=AUTH)
    assert restored.status_code == 202, restored.text
    assert wait_for_run(client, restored.json()["run_id"])["status"] == "succeeded"
    assert (corpus / document_id).read_text(encoding="utf-8") == KITA_REPORT
    assert not (corpus / ".trash" / result["trash_id"]).exists()
    row = documents(client)[document_id]
    assert row["status"] == "indexed" and row["pending_drafts"] == 2  # the accepted one is not proposed again
    assert client.get(f"/api/sources/{document_id}").status_code == 200
    missing = client.post(f"/api/admin/documents/trash/{result['trash_id']}/restore", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "trash_not_found"

    purged = client.delete(f"/api/admin/documents/{document_id}", params={"remove_records": "true"}, headers=AUTH)
    assert purged.status_code == 200 and purged.json()["records_removed"] == 1
    venues = [e["venue"] for e in client.get("/api/records/events").json()["items"]]
    assert "北区民センター" not in venues


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/admin/documents/a/%2E%2E/%2E%2E/etc/passwd", 400, "invalid_document_id"),
        ("/api/admin/documents/no-such-file.md", 404, "document_not_found"),
        ("/api/admin/documents/osaka_r5_zaitaku_renkei_progress.records.yaml", 404, "document_not_found"),
        ("/api/admin/documents/osaka_r5_zaitaku_renkei_progress.txt.meta.yaml", 404, "document_not_found"),
    ],
)
def test_delete_refuses_paths_outside_the_corpus_and_unknown_documents(
    client: httpx.Client,
    loop_server: Server,
    path: str,
    status: int,
    code: str,
) -> None:
    before = corpus_files(loop_server)
    response = client.delete(path, headers=AUTH)
    assert response.status_code == status and response.json()["error"]["code"] == code, response.text
    assert corpus_files(loop_server) == before


def test_a_document_that_fails_to_ingest_is_listed_with_its_error(client: httpx.Client, loop_server: Server) -> None:
    broken = loop_server.deployment.corpus / "broken-scan.pdf"
    broken.write_bytes(b"%PDF-1.4\nnot really a pdf\n")
    try:
        started = client.post("/api/admin/ingest", json={}, headers=AUTH).json()
        assert wait_for_run(client, started["run_id"])["summary"]["failed"] == 1
        row = documents(client)["broken-scan.pdf"]
        assert row["status"] == "failed" and row["chunks"] == 0
        assert [e["stage"] for e in row["errors"]] == ["parse"] and "PDF" in row["errors"][0]["reason"]
    finally:
        deleted = client.delete("/api/admin/documents/broken-scan.pdf", headers=AUTH)
        assert deleted.status_code == 200 and deleted.json()["chunks_removed"] == 0
    trash_id = deleted.json()["trash_id"]
    assert documents(client)["broken-scan.pdf"]["status"] == "deleted"
    inside_trash = client.delete(f"/api/admin/documents/.trash/{trash_id}/broken-scan.pdf", headers=AUTH)
    assert inside_trash.status_code == 404  # the trash is not a corpus folder
    assert (loop_server.deployment.corpus / ".trash" / trash_id / "broken-scan.pdf").is_file()


def _docx_bytes(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_every_supported_type_is_accepted_and_ingested(
    client: httpx.Client, loop_server: Server, tmp_path: Path
) -> None:
    from tests.support.documents import write_pdf as _pdf

    pdf = _pdf(
        tmp_path / "m.pdf", [["令和６年度 東部ブロック 研修会の記録"], ["第2回 研修会は城東区民センターで開催"]]
    ).read_bytes()
    files = {
        "r6_east_minutes.pdf": pdf,
        "r6_east_guide.docx": _docx_bytes(["東部ブロックの連絡会の手引き", "連絡票は相談支援室へ提出します。"]),
        "r6_east_page.html": "<html><head><title>東部ブロックのお知らせ</title></head><body><p>研修の申込みは区役所へ。</p></body></html>".encode(),
        "r6_east_memo.txt": "東部ブロック 打合せメモ\n次回は鶴見区で開催します。".encode("cp932"),  # Shift_JIS text too
    }
    for name, data in files.items():
        response = upload(client, name, data)
        assert response.status_code == 202, (name, response.text)
        assert wait_for_run(client, response.json()["run_id"])["status"] == "succeeded", name
    rows = documents(client)
    assert {name: rows[f"uploads/{name}"]["status"] for name in files} == {name: "indexed" for name in files}
    assert rows["uploads/r6_east_minutes.pdf"]["pages"] == 2
    assert rows["uploads/r6_east_page.html"]["title"] == "東部ブロックのお知らせ"
    for name in files:
        assert client.delete(f"/api/admin/documents/uploads/{name}", headers=AUTH).status_code == 200


def test_uploads_land_in_the_first_corpus_and_are_found_by_a_later_ingest(tmp_path: Path) -> None:
    """Without a server: the rules of ``ingest.uploads`` on a corpus folder."""
    from ingest.discovery import discover
    from ingest.errors import ActionRefused
    from ingest.uploads import store_upload

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    stored = store_upload([corpus], "会議録.md", "# 連絡会 会議録\n\n本文です。".encode(), 10_000)
    assert stored.document_id == "uploads/会議録.md"
    assert discover(corpus).documents == [corpus / "uploads" / "会議録.md"]
    with pytest.raises(ActionRefused) as refused:
        store_upload([corpus], "別名.md", "# 連絡会 会議録\n\n本文です。".encode(), 10_000)
    assert refused.value.code == "duplicate_document" and "uploads/会議録.md" in refused.value.message
