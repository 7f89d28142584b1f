"""Embeddings of short texts (questions, answer lines), kept: the same passages come back question after question.

Two levels: a bounded in-memory map (least recently used out first) and, for passage lines, an optional SQLite
file in the data dir, so a line is embedded once per model, not once per process. Vectors are unit length,
so a dot product is the cosine similarity. Each entry of a 384-d model costs ~1.5 kB in memory: the default
40,000 entries stay under 64 MB.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

DEFAULT_ENTRIES = 40_000


class VectorFile:
    """Vectors by text in a SQLite file (thread-safe: one connection per call; WAL lets readers run beside a writer)."""

    def __init__(self, path: Path, model_name: str) -> None:
        self.path = path
        self._model = model_name.encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def _key(self, text: str) -> bytes:
        return hashlib.blake2b(self._model + b"\0" + text.encode(), digest_size=16).digest()

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        keys = {self._key(text): text for text in texts}
        found: dict[str, np.ndarray] = {}
        with self._connect() as connection:
            items = list(keys)
            for offset in range(0, len(items), 500):  # SQLite's bound on query parameters
                part = items[offset : offset + 500]
                marks = ",".join("?" * len(part))
                for key, blob in connection.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part):
                    found[keys[key]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        rows = [(self._key(text), vector.astype(np.float32).tobytes()) for text, vector in vectors.items()]
        with self._connect() as connection:
            connection.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows)


class VectorCache:
    def __init__(
        self,
        embed: Callable[[list[str]], list[list[float]]],
        max_entries: int = DEFAULT_ENTRIES,
        backing: VectorFile | None = None,
    ) -> None:
        self._embed = embed
        self._max_entries = max_entries
        self._backing = backing
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text, in order; only texts never seen are embedded (in one batch)."""
        with self._lock:
            missing = list(dict.fromkeys(text for text in texts if text not in self._vectors))
        found: dict[str, np.ndarray] = {}
        if missing and self._backing is not None:
            found = self._backing.get(missing)
            missing = [text for text in missing if text not in found]
        if missing:
            fresh = dict(zip(missing, _unit_rows(np.asarray(self._embed(missing), dtype=np.float32)), strict=True))
            if self._backing is not None:
                self._backing.put(fresh)
            found.update(fresh)
        with self._lock:
            for text, vector in found.items():
                self._vectors[text] = vector
            rows = [self._vectors.get(text) for text in texts]
            for text in texts:
                if text in self._vectors:
                    self._vectors.move_to_end(text)
            while len(self._vectors) > self._max_entries:
                self._vectors.popitem(last=False)
        # a row evicted by a concurrent caller meanwhile is embedded alone
        filled = [row if row is not None else _unit_rows(np.asarray(self._embed([t]), np.float32))[0]
                  for row, t in zip(rows, texts, strict=True)]  # fmt: skip
        if not filled:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack(filled)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    units: np.ndarray = matrix / norms
    return units
