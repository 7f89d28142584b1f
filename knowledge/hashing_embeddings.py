"""A model-free embedding: hashed character 1–3-grams, L2-normalised.

Selected with ``RENKEI_EMBEDDING_MODEL=hashing``. It needs no model files and starts instantly, which is what
the storage fault tests and the 100k-chunk benchmarks need; it is a real (lexical) embedding, not a mock.
"""

from __future__ import annotations

import hashlib
import unicodedata

import numpy as np
from langchain_core.embeddings import Embeddings


class HashingEmbeddings(Embeddings):
    model_name = "hashing-char-1-3gram"

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension

    def _vector(self, text: str) -> list[float]:
        normalised = unicodedata.normalize("NFKC", text).replace(" ", "").replace("\n", "")
        vector = np.zeros(self.dimension, dtype=np.float32)
        for n in (1, 2, 3):
            for i in range(len(normalised) - n + 1):
                digest = hashlib.blake2b(normalised[i : i + n].encode(), digest_size=4).digest()
                vector[int.from_bytes(digest, "little") % self.dimension] += 1.0
        norm = float(np.linalg.norm(vector))
        return (vector / norm if norm else vector).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)
