"""Embeddings of short texts kept in memory: the same questions and passage lines come back again and again.

Bounded (least recently used out first) and thread-safe; vectors are unit length, so a dot product is the
cosine similarity. Each entry of a 384-d model costs ~1.5 kB: the default 40,000 entries stay under 64 MB.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_ENTRIES = 40_000


class VectorCache:
    def __init__(self, embed: Callable[[list[str]], list[list[float]]], max_entries: int = DEFAULT_ENTRIES) -> None:
        self._embed = embed
        self._max_entries = max_entries
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text, in order; only texts not seen recently are embedded (in one batch)."""
        with self._lock:
            missing = list(dict.fromkeys(text for text in texts if text not in self._vectors))
        if missing:
            fresh = _unit_rows(np.asarray(self._embed(missing), dtype=np.float32))
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._vectors[text] = vector
                while len(self._vectors) > self._max_entries:
                    self._vectors.popitem(last=False)
        with self._lock:
            rows = []
            for text in texts:
                vector = self._vectors.get(text)
                if vector is None:  # evicted by a concurrent caller between the two steps: embed it alone
                    vector = _unit_rows(np.asarray(self._embed([text]), dtype=np.float32))[0]
                else:
                    self._vectors.move_to_end(text)
                rows.append(vector)
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack(rows)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms
