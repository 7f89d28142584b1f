"""The Japanese lexical index: BM25 (``bm25s``) over Sudachi tokens, keyed by chunk id.

* The tokenised corpus is kept (as ids into a vocabulary), so the BM25 matrix is rebuilt from it
  without re-tokenising: lazily, on the first search after a change. A save stores the matrix too,
  so a freshly loaded index searches at once (its arrays are memory-mapped).
* Searches run on an immutable snapshot; writers never block a search for longer than a dict copy,
  and a search always sees every write that finished before it started.
* ``save()`` writes a new version directory and then swaps a pointer file with ``os.replace``, so a
  crash at any moment leaves the previous version loadable.

On disk (``directory``)::

    CURRENT                 name of the live version directory
    v-<time>-<hex>/         manifest.json, vocab.json, chunks.json, tokens.npy, offsets.npy, bm25/
    .tmp-<hex>/             a save in progress (or one that crashed; a later save removes it)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from knowledge.index import Filters, filter_values
from knowledge.tokenizer import TOKENIZER_VERSION, JapaneseTokenizer, Word, default_tokenizer
from knowledge.types import Chunk

if TYPE_CHECKING:
    import bm25s

log = logging.getLogger(__name__)

MetadataValue = str | int | float | bool | None
Metadata = Mapping[str, MetadataValue]

FORMAT_VERSION = 2
POINTER = "CURRENT"
_VERSION_PREFIX = "v-"
_TMP_PREFIX = ".tmp-"
_KEEP_VERSIONS = 2  # the live one and its predecessor (a reader may still be loading it)
_LOAD_ATTEMPTS = 3
_STALE_TMP_SECONDS = 15 * 60  # a staging dir this old belongs to a save that crashed


class LexicalIndexError(RuntimeError):
    """The on-disk index cannot be read."""


# ------------------------------------------------------------------------------------------ BM25
def _build_bm25(corpus_token_ids: list[np.ndarray], vocab_size: int) -> bm25s.BM25:
    """BM25 over documents given as arrays of term ids in ``range(vocab_size)``."""
    from knowledge.bm25_matrix import build_bm25  # bm25s and scipy: imported with the first matrix

    return build_bm25(corpus_token_ids, vocab_size)


# ------------------------------------------------------------------------------------- snapshot
def _values_of(metadata: Metadata, key: str) -> set[str]:
    """The filter values a chunk has for ``key`` (strings, so 2023 and "2023" match)."""
    value = metadata.get(key)
    return set() if value is None else {str(value)}


@dataclass(frozen=True)
class _Entry:
    tokens: np.ndarray  # int32 ids into the index's vocabulary
    metadata: dict[str, MetadataValue]


@dataclass
class _Snapshot:
    """An immutable, self-contained view of the index at one generation; row ``i`` is ``ids[i]``.

    BM25 columns are a compact vocabulary: only terms some chunk still has.
    """

    generation: int
    ids: list[str]
    metadata: list[dict[str, MetadataValue]]
    tokens: list[np.ndarray]  # per row, ids into the index's vocabulary (what a save writes)
    terms: list[str]  # the term of each BM25 column
    term_ids: np.ndarray  # the index's vocabulary id of each BM25 column
    bm25: bm25s.BM25 | None
    column: dict[str, int] = field(init=False)
    _postings: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    _postings_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.column = {term: i for i, term in enumerate(self.terms)}

    def rows_matching(self, where: Filters) -> np.ndarray:
        """Sorted rows whose metadata satisfy every clause (a list/tuple/set value means any of)."""
        allowed = np.ones(len(self.ids), dtype=bool)
        for key, wanted in where.items():
            values = filter_values(wanted)
            postings = self._postings_for(key)
            clause = np.zeros(len(self.ids), dtype=bool)
            for value in values:
                rows = postings.get(str(value))
                if rows is not None:
                    clause[rows] = True
            allowed &= clause
        return np.flatnonzero(allowed)

    def _postings_for(self, key: str) -> dict[str, np.ndarray]:
        with self._postings_lock:
            if key not in self._postings:
                lists: dict[str, list[int]] = {}
                for row, metadata in enumerate(self.metadata):
                    for value in _values_of(metadata, key):
                        lists.setdefault(value, []).append(row)
                self._postings[key] = {v: np.asarray(r, dtype=np.int64) for v, r in lists.items()}
            return self._postings[key]


def _make_snapshot(generation: int, items: list[tuple[str, _Entry]], vocab: list[str]) -> _Snapshot:
    """BM25 over ``items``; vocabulary terms no chunk has any more are left out."""
    tokens = [entry.tokens for _, entry in items]
    present = np.zeros(len(vocab), dtype=bool)
    for array in tokens:
        present[array] = True
    term_ids = np.flatnonzero(present).astype(np.int32)
    column_of = np.full(len(vocab), -1, dtype=np.int32)
    column_of[term_ids] = np.arange(term_ids.size, dtype=np.int32)
    bm25 = _build_bm25([column_of[t] for t in tokens], int(term_ids.size)) if term_ids.size else None
    return _Snapshot(
        generation=generation,
        ids=[chunk_id for chunk_id, _ in items],
        metadata=[entry.metadata for _, entry in items],
        tokens=tokens,
        terms=[vocab[i] for i in term_ids],
        term_ids=term_ids,
        bm25=bm25,
    )


def _query_columns(words: list[Word], column: Mapping[str, int]) -> np.ndarray:
    """Each query word once: the whole word if the corpus has it, else its parts.

    (Passages index both, so a compound in the query would otherwise count two or three times.)
    """
    columns: set[int] = set()
    for word in words:
        whole = column.get(word.term)
        if whole is not None:
            columns.add(whole)
        else:
            columns.update(c for c in (column.get(part) for part in word.parts) if c is not None)
    return np.fromiter(sorted(columns), dtype=np.int32)


def _top_k(scores: np.ndarray, rows: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of the best ``k`` positive scores, best first (ties: earlier row first)."""
    candidates = rows[scores[rows] > 0] if rows is not None else np.flatnonzero(scores > 0)
    candidate_scores = scores[candidates]
    if candidates.size > k:
        keep = np.argpartition(-candidate_scores, k - 1)[:k]
        candidates, candidate_scores = candidates[keep], candidate_scores[keep]
    order = np.lexsort((candidates, -candidate_scores))
    return candidates[order], candidate_scores[order]


# ----------------------------------------------------------------------------------------- index
class LexicalIndex:
    """BM25 over chunk ids. Safe to search from many threads while another thread writes."""

    def __init__(self, directory: Path | None = None, tokenizer: JapaneseTokenizer | None = None) -> None:
        self.directory = directory
        self._tokenizer = tokenizer
        self._lock = threading.Lock()  # guards the entries and the generation
        self._vocab_lock = threading.Lock()  # guards the vocabulary (append-only)
        self._build_lock = threading.Lock()  # one snapshot build at a time
        self._save_lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._by_document: dict[str, set[str]] = {}
        self._vocab: dict[str, int] = {}
        self._terms: list[str] = []
        self._generation = 0
        self._snapshot = _make_snapshot(0, [], [])
        self.version: str | None = None  # the on-disk version this index was loaded from / saved as

    # --- reading ---------------------------------------------------------------------------------
    @property
    def tokenizer(self) -> JapaneseTokenizer:
        if self._tokenizer is None:
            self._tokenizer = default_tokenizer()
        return self._tokenizer

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._entries

    def count(self) -> int:
        return len(self._entries)

    def ids(self) -> set[str]:
        with self._lock:
            return set(self._entries)

    chunk_ids = ids  # its name before the ChunkIndex protocol

    def filter(self, where: Filters | None = None) -> set[str]:
        """The ids of the chunks whose metadata satisfy ``where`` (see :mod:`knowledge.index`)."""
        if not where:
            return self.ids()
        snapshot = self._current_snapshot()
        return {snapshot.ids[row] for row in snapshot.rows_matching(where)}

    def metadata(self, chunk_id: str) -> dict[str, MetadataValue] | None:
        entry = self._entries.get(chunk_id)
        return dict(entry.metadata) if entry else None

    def search(self, query: str, k: int = 20, where: Filters | None = None) -> list[tuple[str, float]]:
        """Best ``k`` chunks for ``query`` with a positive BM25 score, best first.

        ``where``: equality on metadata keys (``doc_type``, ``fiscal_year``, ``document_id``, ...), all
        must hold; a list value means any of (see :mod:`knowledge.index`).
        """
        if k <= 0:
            return []
        words = self.tokenizer.words(query)
        snapshot = self._current_snapshot()
        if snapshot.bm25 is None or not words:
            return []
        columns = _query_columns(words, snapshot.column)
        if columns.size == 0:
            return []
        rows = snapshot.rows_matching(where) if where else None
        if rows is not None and rows.size == 0:
            return []
        scores = snapshot.bm25.get_scores_from_ids(columns)
        best_rows, best_scores = _top_k(scores, rows, k)
        return [(snapshot.ids[row], float(score)) for row, score in zip(best_rows, best_scores, strict=True)]

    def has_term(self, term: str) -> bool:
        """Whether some chunk contains ``term`` as a whole index term (no backing off to its parts)."""
        return term in self._current_snapshot().column

    def rarity(self, term: str) -> float:
        """BM25's inverse document frequency of a whole index term (the highest value for a term no chunk has):
        how much finding the term says about a passage."""
        snapshot = self._current_snapshot()
        column = snapshot.column.get(term)
        frequency = 0
        if column is not None and snapshot.bm25 is not None:
            indptr = snapshot.bm25.scores["indptr"]
            frequency = int(indptr[column + 1] - indptr[column])
        total = len(snapshot.ids)
        return float(np.log1p((total - frequency + 0.5) / (frequency + 0.5)))

    def _current_snapshot(self) -> _Snapshot:
        with self._lock:
            wanted = self._generation
            if self._snapshot.generation >= wanted:
                return self._snapshot
        with self._build_lock:
            with self._lock:
                if self._snapshot.generation >= wanted:
                    return self._snapshot
                generation, items = self._generation, list(self._entries.items())
            with self._vocab_lock:  # copied after the entries, so it has every id they use
                vocab = list(self._terms)
            snapshot = _make_snapshot(generation, items, vocab)
            with self._lock:
                if snapshot.generation > self._snapshot.generation:
                    self._snapshot = snapshot
            return snapshot

    # --- writing ---------------------------------------------------------------------------------
    def write(self, chunks: Sequence[Chunk]) -> int:
        """Add or replace chunks with their metadata and ``document_id`` (the :class:`ChunkIndex` form of
        :meth:`upsert`); not saved until :meth:`save`."""
        return self.upsert(
            (chunk.chunk_id, chunk.text, {"document_id": chunk.document_id, **chunk.metadata}) for chunk in chunks
        )

    def upsert(self, items: Iterable[tuple[str, str, Metadata]]) -> int:
        """Add or replace chunks ``(chunk_id, text, metadata)``; returns how many were written."""
        tokenizer = self.tokenizer
        return self.upsert_tokenized(
            (chunk_id, tokenizer.tokenize(text), metadata) for chunk_id, text, metadata in items
        )

    def upsert_tokenized(self, items: Iterable[tuple[str, list[str], Metadata]]) -> int:
        """Like :meth:`upsert` with text already run through :meth:`JapaneseTokenizer.tokenize`."""
        prepared = [(chunk_id, list(terms), _clean_metadata(metadata)) for chunk_id, terms, metadata in items]
        if not prepared:
            return 0
        with self._vocab_lock:  # not the entries lock: searches meanwhile go on with the last snapshot
            entries = [(chunk_id, _Entry(self._ids_for(terms), metadata)) for chunk_id, terms, metadata in prepared]
        with self._lock:
            for chunk_id, entry in entries:
                self._remove(chunk_id)
                self._entries[chunk_id] = entry
                document_id = entry.metadata.get("document_id")
                if document_id is not None:
                    self._by_document.setdefault(str(document_id), set()).add(chunk_id)
            self._generation += 1
        return len(prepared)

    def delete(self, chunk_ids: Iterable[str]) -> int:
        """Remove chunks; unknown ids are ignored. Returns how many were removed."""
        with self._lock:
            removed = sum(self._remove(chunk_id) for chunk_id in list(chunk_ids))
            if removed:
                self._generation += 1
        return removed

    def delete_document(self, document_id: str) -> int:
        """Remove every chunk whose metadata ``document_id`` equals ``document_id``."""
        with self._lock:
            chunk_ids = list(self._by_document.get(str(document_id), ()))
        return self.delete(chunk_ids)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_document.clear()
            self._generation += 1

    def _ids_for(self, terms: list[str]) -> np.ndarray:
        """Vocabulary ids of ``terms``, adding new terms (caller holds the vocabulary lock)."""
        for term in dict.fromkeys(terms):
            if term not in self._vocab:
                self._vocab[term] = len(self._terms)
                self._terms.append(term)
        return np.fromiter(map(self._vocab.__getitem__, terms), dtype=np.int32, count=len(terms))

    def _remove(self, chunk_id: str) -> bool:
        entry = self._entries.pop(chunk_id, None)
        if entry is None:
            return False
        document_id = entry.metadata.get("document_id")
        if document_id is not None:
            siblings = self._by_document.get(str(document_id))
            if siblings is not None:
                siblings.discard(chunk_id)
                if not siblings:
                    del self._by_document[str(document_id)]
        return True

    # --- persistence -----------------------------------------------------------------------------
    @classmethod
    def load(cls, directory: Path, tokenizer: JapaneseTokenizer | None = None) -> LexicalIndex:
        """The index saved in ``directory``; empty if nothing was saved there yet.

        An index written in another format or by another tokenizer version loads empty (with a
        warning): its chunks must be upserted again (compare :meth:`chunk_ids` with what should be).
        """
        for attempt in range(_LOAD_ATTEMPTS):
            index = cls(directory, tokenizer)
            version = _read_pointer(directory)
            if version is None:
                return index
            try:
                _read_version(directory / version, index)
            except FileNotFoundError:
                # a concurrent save replaced and pruned that version between our two reads
                if attempt + 1 == _LOAD_ATTEMPTS:
                    raise LexicalIndexError(f"lexical index version {version} vanished while loading") from None
                continue
            index.version = version
            return index
        raise AssertionError("unreachable")

    def save(self, directory: Path | None = None) -> Path:
        """Write the index atomically, BM25 matrix included; returns the new version directory."""
        target = directory or self.directory
        if target is None:
            raise ValueError("no directory to save the lexical index to")
        with self._save_lock:
            snapshot = self._current_snapshot()
            target.mkdir(parents=True, exist_ok=True)
            staging = target / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
            staging.mkdir()
            _write_version(staging, snapshot)
            version = f"{_VERSION_PREFIX}{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
            os.rename(staging, target / version)
            _fsync_dir(target)
            _write_pointer(target, version)
            self.version = version
            self.directory = self.directory or target
            _prune(target, keep=version)
            return target / version


def _clean_metadata(metadata: Metadata | None) -> dict[str, MetadataValue]:
    clean: dict[str, MetadataValue] = {}
    for key, value in (metadata or {}).items():
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise TypeError(f"metadata {key!r} must be str, int, float, bool or None, not {type(value).__name__}")
        clean[str(key)] = value
    return clean


# ------------------------------------------------------------------------------------ disk format
def _read_pointer(directory: Path) -> str | None:
    try:
        version = (directory / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not version.startswith(_VERSION_PREFIX) or "/" in version:
        raise LexicalIndexError(f"{directory / POINTER} holds {version!r}, not a version name")
    return version


def _write_pointer(directory: Path, version: str) -> None:
    temporary = directory / f"{_TMP_PREFIX}{POINTER}-{uuid.uuid4().hex}"
    with _durable(temporary, "w") as handle:
        handle.write(version + "\n")
    os.replace(temporary, directory / POINTER)
    _fsync_dir(directory)


def _write_version(path: Path, snapshot: _Snapshot) -> None:
    """Every file fsynced, manifest.json last: a version directory is complete when it has one.

    Tokens are written as BM25 column numbers: the snapshot's compact vocabulary becomes the
    loaded index's vocabulary, so the stored matrix and the tokens agree.
    """
    column_of = np.full(int(snapshot.term_ids.max(initial=-1)) + 1, -1, dtype=np.int32)
    column_of[snapshot.term_ids] = np.arange(snapshot.term_ids.size, dtype=np.int32)
    offsets = np.zeros(len(snapshot.tokens) + 1, dtype=np.int64)
    np.cumsum([array.size for array in snapshot.tokens], out=offsets[1:])
    flat = np.concatenate([column_of[array] for array in snapshot.tokens]) if offsets[-1] else np.zeros(0, np.int32)
    with _durable(path / "tokens.npy", "wb") as handle:
        np.save(handle, flat)
    with _durable(path / "offsets.npy", "wb") as handle:
        np.save(handle, offsets)
    with _durable(path / "vocab.json", "w") as handle:
        json.dump(snapshot.terms, handle, ensure_ascii=False)
    with _durable(path / "chunks.json", "w") as handle:
        json.dump({"ids": snapshot.ids, "metadata": snapshot.metadata}, handle, ensure_ascii=False)
    if snapshot.bm25 is not None:
        snapshot.bm25.save(str(path / "bm25"), show_progress=False)
        _fsync_tree(path / "bm25")
    manifest = {
        "format": FORMAT_VERSION,
        "tokenizer": TOKENIZER_VERSION,
        "chunks": len(snapshot.ids),
        "terms": len(snapshot.terms),
        "bm25": snapshot.bm25 is not None,
    }
    with _durable(path / "manifest.json", "w") as handle:
        json.dump(manifest, handle)
    _fsync_dir(path)


def _read_version(path: Path, index: LexicalIndex) -> None:
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise LexicalIndexError(f"{path}/manifest.json is corrupt: {error}") from error
    built_by = (manifest.get("format"), manifest.get("tokenizer"))
    if built_by != (FORMAT_VERSION, TOKENIZER_VERSION):
        log.warning(
            "lexical index %s has format/tokenizer %r, not %r: starting empty",
            path,
            built_by,
            (FORMAT_VERSION, TOKENIZER_VERSION),
        )
        return
    terms: list[str] = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
    flat = np.load(path / "tokens.npy", mmap_mode="r").view(np.ndarray)  # plain views slice fast
    offsets = np.load(path / "offsets.npy")
    chunks = json.loads((path / "chunks.json").read_text(encoding="utf-8"))
    ids, metadatas = chunks["ids"], chunks["metadata"]
    n = manifest["chunks"]
    if len(ids) != n or len(metadatas) != n or offsets.size != n + 1 or len(terms) != manifest["terms"]:
        raise LexicalIndexError(f"{path}: files disagree with manifest.json")
    bm25 = None
    if manifest["bm25"]:
        from knowledge.bm25_matrix import load_bm25

        bm25 = load_bm25(path / "bm25")
    entries: dict[str, _Entry] = {}
    by_document: dict[str, set[str]] = {}
    for chunk_id, metadata, start, end in zip(ids, metadatas, offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
        entries[chunk_id] = _Entry(tokens=flat[start:end], metadata=metadata)
        if metadata.get("document_id") is not None:
            by_document.setdefault(str(metadata["document_id"]), set()).add(chunk_id)
    snapshot = _Snapshot(
        generation=1,
        ids=list(entries),
        metadata=[entry.metadata for entry in entries.values()],
        tokens=[entry.tokens for entry in entries.values()],
        terms=terms,
        term_ids=np.arange(len(terms), dtype=np.int32),
        bm25=bm25,
    )
    with index._vocab_lock, index._lock:
        index._terms, index._vocab = terms, {term: i for i, term in enumerate(terms)}
        index._entries, index._by_document = entries, by_document
        index._generation, index._snapshot = 1, snapshot


class _durable:
    """``open`` whose close flushes to disk (fsync) before returning."""

    def __init__(self, path: Path, mode: str) -> None:
        # This class is the context manager: its __exit__ closes the handle.
        self._handle = open(path, mode, encoding=None if "b" in mode else "utf-8")  # noqa: SIM115

    def __enter__(self) -> IO[Any]:
        return self._handle

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        finally:
            self._handle.close()


def _fsync_tree(path: Path) -> None:
    for file in path.iterdir():
        if file.is_file():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(directory: Path, keep: str) -> None:
    """Remove long-dead staging dirs and all but the newest versions (always keeping ``keep``)."""
    cutoff = time.time() - _STALE_TMP_SECONDS
    for child in directory.iterdir():
        if child.name.startswith(_TMP_PREFIX) and _mtime(child) < cutoff:
            _remove_path(child)
    versions = sorted(c.name for c in directory.iterdir() if c.is_dir() and c.name.startswith(_VERSION_PREFIX))
    for name in versions[:-_KEEP_VERSIONS]:
        if name != keep:
            _remove_path(directory / name)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _remove_path(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
