"""The knowledge base: catalog (SQL) + dense index (Chroma) + lexical index (BM25), kept in step."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.catalog import Catalog
from knowledge.database import open_database
from knowledge.embedders import load_embeddings, model_identity
from knowledge.lexical import LexicalIndex, LexicalIndexError
from knowledge.settings import Settings
from knowledge.types import Chunk, DocumentInfo
from knowledge.vector_cache import VectorCache, VectorFile
from knowledge.vectorstore import REBUILD_HINT, VectorIndex  # chromadb itself is imported on first use

if TYPE_CHECKING:  # LangChain's import (its callbacks and runnables) costs ~0.2 s that record questions need not pay
    from langchain_core.embeddings import Embeddings

FILTER_KEYS = ("doc_type", "fiscal_year", "document_id", "ward")


class KnowledgeBase:
    """One per process. Readers call :meth:`refresh` (cheap) to pick up commits made by an ingest elsewhere."""

    def __init__(self, settings: Settings, embeddings: Embeddings | None = None) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(open_database(settings.resolved_database_url))
        self._embeddings = embeddings
        self._lock = threading.Lock()
        self._generation = -1
        self._live: frozenset[str] = frozenset()
        self._lexical: LexicalIndex | None = None
        self._query_vectors: VectorCache | None = None
        self._passage_vectors: VectorCache | None = None
        self._vectors: VectorIndex | None = None
        self._vectors_lock = threading.Lock()

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            self._lexical = _load_lexical(self.settings)
        return self._lexical

    @lexical.setter
    def lexical(self, index: LexicalIndex) -> None:
        self._lexical = index

    @property
    def embeddings(self) -> Embeddings:
        """The model, loaded on first use (record questions never ask for it); threads share one load."""
        if self._embeddings is None:
            self._embeddings = load_embeddings(self.settings)
        return self._embeddings

    @property
    def embeddings_loaded(self) -> bool:
        return self._embeddings is not None

    @property
    def vectors(self) -> VectorIndex:
        if self._vectors is None:
            with self._vectors_lock:  # a background warm-up and a first passage question may race here
                if self._vectors is None:
                    name, dimension = model_identity(self.embeddings)
                    self._vectors = VectorIndex(self.settings, self.embeddings, name, dimension)
        return self._vectors

    def forget_vectors(self) -> None:
        """Reopen the dense index on next use (after its collection was dropped)."""
        with self._vectors_lock:
            self._vectors = None

    @property
    def model_name(self) -> str:
        """The configured model's name, without loading it (health checks must stay cheap)."""
        if self._embeddings is not None:
            return model_identity(self._embeddings)[0]
        # Imported here: the builder brings the export and the embedding classes, which naming the model needs not.
        from knowledge.model_build import MODEL_DIR_NAME

        return self.settings.embedding_model or MODEL_DIR_NAME

    # --- freshness -----------------------------------------------------------------------------
    def refresh(self, *, force: bool = False) -> None:
        generation = self.catalog.generation()
        if generation == self._generation and not force:
            return
        with self._lock:
            if generation == self._generation and not force:
                return
            live = frozenset(self.catalog.live_chunk_ids())
            lexical = _load_lexical(self.settings)
            self._live, self._lexical, self._generation = live, lexical, generation

    @property
    def live_chunk_ids(self) -> frozenset[str]:
        return self._live

    # --- embeddings of questions and passage lines (cached) ----------------------------------------
    def query_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length query embeddings (a question is embedded once, however many steps use it)."""
        if self._query_vectors is None:
            self._query_vectors = VectorCache(lambda batch: [self.embeddings.embed_query(t) for t in batch], 2_000)
        return self._query_vectors.vectors(texts)

    def passage_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length passage embeddings of short texts (answer lines), cached across questions."""
        if self._passage_vectors is None:
            backing = VectorFile(self.settings.data_dir / "line_vectors.sqlite3", self.model_name)
            self._passage_vectors = VectorCache(self.embeddings.embed_documents, backing=backing)
        return self._passage_vectors.vectors(texts)

    # --- search --------------------------------------------------------------------------------
    def dense_search(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        if not query.strip() or not self._live:
            return []
        vector = self.query_vectors([query])[0].tolist()
        hits = self.vectors.search(vector, k=k + 10, where=_chroma_where(where))
        return [(chunk_id, score) for chunk_id, score in hits if chunk_id in self._live][:k]

    def lexical_search(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        hits = self.lexical.search(query, k=k + 10, where=where or None)
        return [(chunk_id, score) for chunk_id, score in hits if chunk_id in self._live and score > 0][:k]

    # --- look-up -------------------------------------------------------------------------------
    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        return self.catalog.load_chunks(chunk_ids)

    def document(self, document_id: str) -> DocumentInfo | None:
        return self.catalog.document(document_id)

    def chunks_of(self, document_id: str) -> list[Chunk]:
        return self.catalog.chunks_of(document_id)

    def counts(self) -> dict[str, int]:
        return self.catalog.counts()


class IndexUnreadable(RuntimeError):
    pass


def _load_lexical(settings: Settings) -> LexicalIndex:
    try:
        return LexicalIndex.load(settings.lexical_dir)
    except (LexicalIndexError, OSError, ValueError) as exc:
        raise IndexUnreadable(
            f"the lexical index in {settings.lexical_dir} cannot be read ({exc}); {REBUILD_HINT}"
        ) from exc


def _chroma_where(where: dict[str, Any] | None) -> dict[str, Any] | None:
    """Translate our filters to Chroma's: a ward is stored as a boolean flag per mentioned ward."""
    if not where:
        return None
    clauses: list[dict[str, Any]] = []
    for key, value in where.items():
        if key not in FILTER_KEYS:
            raise ValueError(f"unknown filter {key!r}; use one of {', '.join(FILTER_KEYS)}")
        clauses.append({f"ward:{value}": True} if key == "ward" else {key: value})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def ward_flags(wards: Sequence[str]) -> dict[str, bool]:
    return {f"ward:{ward}": True for ward in wards}
