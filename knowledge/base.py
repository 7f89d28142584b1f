"""The knowledge base: catalog (SQL) + dense index (Chroma) + lexical index (BM25), kept in step."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.catalog import Catalog
from knowledge.config import Settings
from knowledge.database import open_database
from knowledge.embedders import load_embeddings, model_identity
from knowledge.index import Filters, filter_values
from knowledge.lexical import LexicalIndex, LexicalIndexError
from knowledge.types import Chunk, DocumentInfo
from knowledge.vector_cache import VectorCache, VectorFile
from knowledge.vectorstore import REBUILD_HINT, VectorIndex, chroma_client, close_client  # chromadb: on first use

if TYPE_CHECKING:  # LangChain's import (its callbacks and runnables) costs ~0.2 s that record questions need not pay
    from langchain_core.embeddings import Embeddings
    from sqlalchemy import Engine

# The filters a search takes: a ward matches the chunks that mention it; each value may be a list (any of).
FILTER_KEYS = ("doc_type", "fiscal_year", "document_id", "ward")


class KnowledgeBase:
    """One per process. Readers call :meth:`refresh` (cheap) to pick up commits made by an ingest elsewhere.

    Other packages use what it offers and never its parts' insides: the two indexes (each a
    :class:`knowledge.index.ChunkIndex`), :meth:`reset` to start over, :attr:`engine` and :attr:`lock_path` for the
    ingest lock, :meth:`index_filters` for the search filters, and :meth:`dispose` at shutdown.
    """

    def __init__(self, settings: Settings, embeddings: Embeddings | None = None) -> None:
        self.settings = settings
        settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(open_database(settings.storage.resolved_database_url))
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

    @property
    def engine(self) -> Engine:
        """The database engine (catalog, records, conversations: one database, see :mod:`knowledge.database`)."""
        return self.catalog.engine

    @property
    def lock_path(self) -> Path:
        """The file that an ingest holds (``ingest.locking.ingest_lock``) so that one runs at a time."""
        return self.settings.storage.ingest_lock_path

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

    def reset(self) -> None:
        """Drop both indexes and empty the catalog (``renkei ingest --rebuild``, e.g. after changing the embedding
        model). The dense index is dropped without being opened, so a model mismatch does not stop it; it is made
        again with the configured model on next use. The caller holds the ingest lock."""
        with self._vectors_lock:
            self._close_vectors()
            client = chroma_client(self.settings)
            try:
                if self.settings.storage.collection in [collection.name for collection in client.list_collections()]:
                    client.delete_collection(self.settings.storage.collection)
            finally:
                close_client(client)
        shutil.rmtree(self.settings.storage.lexical_dir, ignore_errors=True)
        with self._lock:
            self._lexical = LexicalIndex.load(self.settings.storage.lexical_dir)
        self.catalog.clear()

    def dispose(self) -> None:
        """Release the database engine's connections and the dense index's client (at shutdown, or when a test
        is done with this instance). The indexes reopen on next use; the engine makes new connections if used."""
        with self._vectors_lock:
            self._close_vectors()
        self.catalog.engine.dispose()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """``with KnowledgeBase(...) as kb:`` disposes of it at the end (a short-lived instance, e.g. an ingest's)."""
        self.dispose()

    def _close_vectors(self) -> None:
        """Close the dense index, to be reopened on next use (the caller holds the vectors lock)."""
        if self._vectors is not None:
            self._vectors.close()
            self._vectors = None

    @property
    def model_name(self) -> str:
        """The configured model's name, without loading it (health checks must stay cheap)."""
        if self._embeddings is not None:
            return model_identity(self._embeddings)[0]
        # Imported here: the builder brings the export and the embedding classes, which naming the model needs not.
        from knowledge.model_build import MODEL_DIR_NAME

        return self.settings.retrieval.embedding_model or MODEL_DIR_NAME

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
            backing = VectorFile(self.settings.storage.line_vectors_file, self.model_name)
            self._passage_vectors = VectorCache(self.embeddings.embed_documents, backing=backing)
        return self._passage_vectors.vectors(texts)

    # --- search --------------------------------------------------------------------------------
    @staticmethod
    def index_filters(where: dict[str, Any] | None) -> list[Filters] | None:
        """The generic index filters (see :mod:`knowledge.index`) for a search's ``where`` over
        :data:`FILTER_KEYS`, as clauses any one of which a chunk may meet. ``ward`` becomes the ``ward:<name>``
        flag that every chunk mentioning the ward has; several wards give one clause each, because flags of
        different keys cannot be or-ed inside one clause of either index."""
        if not where:
            return None
        common: dict[str, Any] = {}
        wards: list[str] = []
        for key, value in where.items():
            if key not in FILTER_KEYS:
                raise ValueError(f"unknown filter {key!r}; use one of {', '.join(FILTER_KEYS)}")
            if key == "ward":
                wards = [str(ward) for ward in filter_values(value)]
                if not wards:
                    raise ValueError("a ward filter needs at least one ward")
            else:
                common[key] = value
        if not wards:
            return [common]
        return [{**common, **ward_flags([ward])} for ward in dict.fromkeys(wards)]

    def dense_search(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        clauses = self.index_filters(where)
        if not query.strip() or not self._live:
            return []
        vector = self.query_vectors([query])[0].tolist()
        return self._search_any(lambda filters: self.vectors.search(vector, k=k + 10, where=filters), clauses, k)

    def lexical_search(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        clauses = self.index_filters(where)
        hits = self._search_any(lambda filters: self.lexical.search(query, k=k + 10, where=filters), clauses, k)
        return [(chunk_id, score) for chunk_id, score in hits if score > 0]

    def _search_any(
        self,
        search: Callable[[Filters | None], list[tuple[str, float]]],
        clauses: list[Filters] | None,
        k: int,
    ) -> list[tuple[str, float]]:
        """The best ``k`` live hits over the union of the clauses: one search per clause, merged by score (an
        index's scores for one query are comparable, and the top k of a union lies within each clause's top k)."""
        best: dict[str, float] = {}
        everything: list[Filters | None] = [None]
        for filters in clauses or everything:
            for chunk_id, score in search(filters):
                if chunk_id in self._live and score > best.get(chunk_id, float("-inf")):
                    best[chunk_id] = score
        return sorted(best.items(), key=lambda hit: -hit[1])[:k]

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
        return LexicalIndex.load(settings.storage.lexical_dir)
    except (LexicalIndexError, OSError, ValueError) as exc:
        raise IndexUnreadable(
            f"the lexical index in {settings.storage.lexical_dir} cannot be read ({exc}); {REBUILD_HINT}"
        ) from exc


def ward_flags(wards: Sequence[str]) -> dict[str, bool]:
    """The metadata flags of a chunk that mentions ``wards``, which a ward filter asks for (one key per ward)."""
    return {f"ward:{ward}": True for ward in wards}
