"""Documents uploaded from the web page: checked by content, written atomically into ``<corpus>/uploads/``.

An upload is refused (``ActionRefused``, with a stable code and a Japanese/English message) when its name
could leave the uploads folder or hide from discovery, when its bytes are not what its extension claims
(type is decided from the content, the extension only has to agree), when it is empty or over the size
limit, when the same bytes are already a document of the corpus (the message names that document), when a
different document already has that name, or when the parser cannot read it. Nothing is written to the
corpus unless every check passed; the write goes to a hidden temporary file first and is then linked
into place, so a half-written file is never seen by an ingest and an existing file is never replaced.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Literal

from ingest.discovery import DOCUMENT_SUFFIXES, discover
from ingest.errors import ActionRefused
from ingest.metadata import document_id_for
from ingest.parsers import ParseError, decode_bytes, parse_file

UPLOADS_DIR = "uploads"
MAX_NAME_CHARS = 120
Kind = Literal["pdf", "docx", "text"]

# What each extension must contain: .html is text too (the parser reads markup from decoded text).
EXTENSION_KINDS: dict[str, Kind] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "text",
    ".md": "text",
    ".html": "text",
    ".htm": "text",
}
KIND_LABELS: dict[Kind, str] = {"pdf": "PDF", "docx": "Word (.docx)", "text": "テキスト"}
# Leading bytes of common binary formats, only to say what a refused file looks like.
BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG 画像"),
    (b"\xff\xd8\xff", "JPEG 画像"),
    (b"GIF8", "GIF 画像"),
    (b"MZ", "Windows の実行ファイル"),
    (b"\x7fELF", "実行ファイル (ELF)"),
    (b"\x1f\x8b", "gzip 圧縮ファイル"),
    (b"PK\x03\x04", "zip 圧縮ファイル"),
    (b"\xd0\xcf\x11\xe0", "旧形式の Office 文書 (.doc/.xls)"),
)
_UNSAFE_NAME_RE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


@dataclass(frozen=True)
class StoredUpload:
    document_id: str
    path: Path
    sha256: str
    kind: Kind
    size: int


def uploads_root(corpus_dirs: list[Path]) -> tuple[Path, Path]:
    """(corpus root, its uploads folder): uploads go into the first configured corpus."""
    if not corpus_dirs:
        raise ActionRefused(
            503, "no_corpus", "資料フォルダが設定されていません（RENKEI_CORPUS_DIRS）。 / No corpus dir is configured."
        )
    root = corpus_dirs[0].resolve()
    return root, root / UPLOADS_DIR


def check_name(filename: str | None) -> str:
    """The file name to store, or ``ActionRefused``: no folders, no ``..``, no hidden or reserved names."""
    name = unicodedata.normalize("NFC", (filename or "").strip())
    if not name:
        raise ActionRefused(422, "missing_filename", "ファイル名がありません。 / The upload has no file name.")
    if "/" in name or "\\" in name or name in (".", "..") or ".." in name.split("."):
        raise ActionRefused(
            400,
            "invalid_filename",
            f"ファイル名にフォルダや「..」を含めることはできません: {name!r} / A file name must not contain folders or '..'.",
        )
    if name.startswith(".") or _UNSAFE_NAME_RE.search(name):
        raise ActionRefused(
            400,
            "invalid_filename",
            f"ファイル名に使えない文字が含まれています: {name!r} / The file name contains characters that are not allowed.",
        )
    if len(name) > MAX_NAME_CHARS:
        raise ActionRefused(
            400,
            "invalid_filename",
            f"ファイル名は{MAX_NAME_CHARS}文字以内にしてください。 / The file name is too long.",
        )
    suffix = Path(name).suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES or name.lower().endswith(".meta.yaml"):
        allowed = "、".join(sorted(EXTENSION_KINDS))
        raise ActionRefused(
            415,
            "unsupported_type",
            f"この種類のファイルは取り込めません（{suffix or '拡張子なし'}）。使える形式: {allowed} / Unsupported file type.",
        )
    return name


def detect_kind(data: bytes) -> Kind | None:
    """What the bytes are, decided from the content alone (None: not a document renkei reads)."""
    if data.lstrip(b"\xef\xbb\xbf\r\n\t ")[:5] == b"%PDF-":
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(BytesIO(data)) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            return None
        return "docx" if {"[Content_Types].xml", "word/document.xml"} <= names else None
    try:
        decode_bytes(data)
    except ParseError:
        return None
    return "text"


def _looks_like(data: bytes) -> str:
    return next((label for signature, label in BINARY_SIGNATURES if data.startswith(signature)), "読めないバイナリ")


def check_content(name: str, data: bytes, max_bytes: int) -> Kind:
    """The content's kind when it is non-empty, within the limit and what the extension claims."""
    if not data:
        raise ActionRefused(422, "empty_file", "ファイルが空です（0 バイト）。 / The file is empty.")
    if len(data) > max_bytes:
        raise ActionRefused(
            413,
            "file_too_large",
            f"ファイルが大きすぎます（上限 {max_bytes:,} バイト）。 / The file exceeds {max_bytes:,} bytes.",
        )
    expected = EXTENSION_KINDS[Path(name).suffix.lower()]
    found = detect_kind(data)
    if found != expected:
        what = KIND_LABELS[found] if found else _looks_like(data)
        raise ActionRefused(
            415,
            "content_mismatch",
            f"「{name}」の中身は{KIND_LABELS[expected]}ではありません（中身: {what}）。"
            f" / The content of {name!r} is not what its extension says ({expected}).",
        )
    return expected


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _same_bytes(path: Path, sha256: str, size: int) -> bool:
    try:
        return path.stat().st_size == size and bytes_sha256(path.read_bytes()) == sha256  # sizes first: cheap
    except OSError:
        return False


def find_same_content(corpus_dirs: list[Path], sha256: str, size: int) -> tuple[str, bool] | None:
    """(document id, in the trash?) of a document with exactly these bytes, in the corpus or its trash."""
    from ingest.documents import trash_entries, trashed_file

    for root in (r.resolve() for r in corpus_dirs if r.is_dir()):
        found = discover(root)
        same = next((path for path in found.documents if _same_bytes(path, sha256, size)), None)
        if same is not None:
            return document_id_for(same, found.root), False
        trashed = next((e for e in trash_entries([root]) if _same_bytes(trashed_file(root, e), sha256, size)), None)
        if trashed is not None:
            return trashed.document_id, True
    return None


def _check_parses(name: str, data: bytes, directory: Path) -> None:
    """Run the ingest's own parser on the bytes, so an unreadable document is refused now, not later."""
    with tempfile.TemporaryDirectory(prefix=".check-", dir=directory) as scratch:
        probe = Path(scratch) / f"probe{Path(name).suffix.lower()}"
        probe.write_bytes(data)
        try:
            parse_file(probe)
        except ParseError as exc:
            raise ActionRefused(
                422,
                "unreadable_document",
                f"この資料は読み取れません: {exc.reason} / The document cannot be read: {exc.reason}",
            ) from None


def _write_new(path: Path, data: bytes) -> None:
    """Write ``data`` to a hidden temporary file beside ``path``, sync it, then link it into place.

    ``os.link`` fails when ``path`` exists, so a file of the same name written meanwhile is never replaced.
    """
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.link(temporary, path)
    finally:
        os.unlink(temporary)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def store_upload(corpus_dirs: list[Path], filename: str | None, data: bytes, max_bytes: int) -> StoredUpload:
    """Check an upload and write it into the uploads folder; raises ``ActionRefused`` and writes nothing."""
    name = check_name(filename)
    kind = check_content(name, data, max_bytes)
    root, folder = uploads_root(corpus_dirs)
    sha256 = bytes_sha256(data)
    same = find_same_content(corpus_dirs, sha256, len(data))
    if same is not None and same[1]:
        raise ActionRefused(
            409,
            "duplicate_in_trash",
            f"同じ内容の資料がごみ箱にあります: {same[0]}。ごみ箱から元に戻してください。"
            f" / The same content is in the trash as {same[0]}; restore it instead.",
        )
    if same is not None:
        raise ActionRefused(
            409,
            "duplicate_document",
            f"同じ内容の資料がすでにあります: {same[0]} / The same content is already in the corpus as {same[0]}.",
        )
    target = folder / name
    document_id = document_id_for(target, root)
    if target.exists():
        raise ActionRefused(
            409,
            "name_taken",
            f"同じ名前の別の資料があります: {document_id}。名前を変えるか、先に削除してください。"
            f" / A different document named {document_id} exists; rename the file or delete that one first.",
        )
    folder.mkdir(parents=True, exist_ok=True)
    _check_parses(name, data, folder)
    try:
        _write_new(target, data)
    except FileExistsError:
        raise ActionRefused(
            409,
            "name_taken",
            f"同じ名前の資料が先に保存されました: {document_id} / {document_id} was just saved by another upload.",
        ) from None
    return StoredUpload(document_id=document_id, path=target, sha256=sha256, kind=kind, size=len(data))
