"""Dense side: Chroma (embedded or server) behind LangChain's ``VectorStore``, always with our embeddings.

chromadb and langchain-chroma are imported when an index is first opened (they take ~0.7 s to import), so
processes that never search densely — a record question, the health check — do not pay for them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from knowledge.config import Settings
from knowledge.index import Filters, filter_values
from knowledge.types import Chunk

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.collection_configuration import CreateCollectionConfiguration
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

# chromadb builds one shared "system" per path on first use, and two threads doing that at once (a server's
# background warm-up and an admin ingest) can get a half-started one: open clients one at a time.
_OPEN_LOCK = threading.RLock()
_CONFIGURATION: CreateCollectionConfiguration = {"hnsw": {"space": "cosine"}}

REBUILD_HINT = "run `renkei ingest --rebuild` to rebuild the index with the configured model"


class EmbeddingModelMismatch(RuntimeError):
    pass


def chroma_server_address(chroma_url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of ``RENKEI_CHROMA_URL``; the port defaults to 8000 for http and 443 for https."""
    url = urlparse(chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname or url.path not in ("", "/"):
        raise ValueError(
            f"RENKEI_CHROMA_URL must look like http://HOST:PORT or https://HOST[:PORT] (no path), not {chroma_url!r}"
        )
    https = url.scheme == "https"
    return url.hostname, url.port or (443 if https else 8000), https


def chroma_client(settings: Settings) -> ClientAPI:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    with _OPEN_LOCK:
        if settings.storage.chroma_url:
            host, port, ssl = chroma_server_address(settings.storage.chroma_url)
            return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=client_settings)
        settings.storage.chroma_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.storage.chroma_dir), settings=client_settings)


def close_client(client: ClientAPI) -> None:
    """Release a client: the on-disk system of a path stops with its last client. (``close`` is on chromadb's
    ``Client``, which its factories return, typed as the ``ClientAPI`` that lacks it.)"""
    from chromadb.api.client import Client

    if isinstance(client, Client):
        client.close()


def chunk_metadata(chunk: Chunk, doc_metadata: Mapping[str, Any]) -> dict[str, str | int | float | bool]:
    """Filterable metadata stored beside a vector; ``None`` is not allowed in Chroma."""
    merged = {"document_id": chunk.document_id, **doc_metadata}
    return {key: value for key, value in merged.items() if value is not None}


def chroma_where(where: Filters | None) -> dict[str, Any] | None:
    """Chroma's ``where`` for generic filters (see :mod:`knowledge.index`); None when nothing is filtered."""
    clauses: list[dict[str, Any]] = []
    for key, wanted in (where or {}).items():
        values = filter_values(wanted)
        clauses.append({key: values[0]} if len(values) == 1 else {key: {"$in": values}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _matches_nothing(where: Filters | None) -> bool:
    """Whether a clause allows no value (an empty list), which Chroma's ``$in`` refuses rather than answers."""
    return any(not filter_values(wanted) for wanted in (where or {}).values())


class VectorIndex:
    """The Chroma collection of chunk vectors; a :class:`knowledge.index.ChunkIndex` searched by vector.

    Searching uses the chromadb collection directly; LangChain's ``Chroma`` wrapper, whose import pulls in
    LangChain's runnables (about a second of a cold start), is made on the first write.
    """

    def __init__(self, settings: Settings, embeddings: Embeddings, model_name: str, dimension: int) -> None:
        self.model_name = model_name
        self.dimension = dimension
        self._embeddings = embeddings
        self._name = settings.storage.collection
        self._metadata = {"embedding_model": model_name, "dimension": dimension}
        self._store: Chroma | None = None
        with _OPEN_LOCK:
            self.client = chroma_client(settings)
            # The same call langchain-chroma makes, so the wrapper made later finds this collection.
            self._collection = self.client.get_or_create_collection(
                name=self._name, embedding_function=None, metadata=self._metadata, configuration=_CONFIGURATION
            )
        self._check_model()

    @property
    def store(self) -> Chroma:
        if self._store is None:
            from langchain_chroma import Chroma

            with _OPEN_LOCK:
                self._store = Chroma(
                    collection_name=self._name,
                    embedding_function=self._embeddings,
                    client=self.client,
                    collection_metadata=self._metadata,
                    collection_configuration=_CONFIGURATION,
                )
        return self._store

    @property
    def collection(self) -> Any:
        if self._store is not None:  # after a reset the wrapper holds the new collection
            return self._store._collection  # langchain-chroma exposes no public accessor
        return self._collection

    def _check_model(self) -> None:
        metadata = self.collection.metadata or {}
        built_with = metadata.get("embedding_model")
        dimension = metadata.get("dimension")
        if built_with is not None and (built_with != self.model_name or dimension != self.dimension):
            raise EmbeddingModelMismatch(
                f"the vector index was built with {built_with!r} ({dimension} dimensions) but the configured "
                f"embedding model is {self.model_name!r} ({self.dimension} dimensions); {REBUILD_HINT}"
            )

    def ids(self) -> set[str]:
        return self.filter()

    def count(self) -> int:
        return int(self.collection.count())

    def filter(self, where: Filters | None = None) -> set[str]:
        """The ids of the chunks whose metadata satisfy ``where`` (see :mod:`knowledge.index`)."""
        if _matches_nothing(where):
            return set()
        return set(self.collection.get(where=chroma_where(where), include=[])["ids"])

    def write(self, chunks: Sequence[Chunk]) -> int:
        """Embed and add (or replace) chunks, stored with their metadata and ``document_id``."""
        batch = max(1, min(1000, self.client.get_max_batch_size()))
        for offset in range(0, len(chunks), batch):
            part = chunks[offset : offset + batch]
            # Chroma's upsert merges a known id's metadata with the new; a replaced chunk must lose its old keys.
            self.delete(chunk.chunk_id for chunk in part)
            self.store.add_texts(
                texts=[chunk.text for chunk in part],
                metadatas=[chunk_metadata(chunk, chunk.metadata) for chunk in part],
                ids=[chunk.chunk_id for chunk in part],
            )
        return len(chunks)

    def add_vectors(
        self,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        """Add precomputed vectors (benchmarks synthesise chunks this way)."""
        batch = max(1, min(5000, self.client.get_max_batch_size()))
        for offset in range(0, len(ids), batch):
            end = offset + batch
            self.collection.upsert(
                ids=list(ids[offset:end]),
                embeddings=[list(v) for v in vectors[offset:end]],
                documents=list(texts[offset:end]),
                metadatas=list(metadatas[offset:end]),
            )

    def delete(self, chunk_ids: Iterable[str]) -> int:
        """Remove chunks by id (unknown ids are ignored); how many were removed."""
        ids = list(dict.fromkeys(chunk_ids))
        batch = max(1, self.client.get_max_batch_size())
        removed = 0
        for offset in range(0, len(ids), batch):
            part = ids[offset : offset + batch]
            present = self.collection.get(ids=part, include=[])["ids"]
            if present:
                self.collection.delete(ids=present)
                removed += len(present)
        return removed

    def search(self, vector: Sequence[float], k: int, where: Filters | None = None) -> list[tuple[str, float]]:
        """Chunk ids with cosine similarity, best first."""
        if k <= 0 or _matches_nothing(where) or self.count() == 0:
            return []
        result = self.collection.query(
            query_embeddings=[list(vector)], n_results=k, where=chroma_where(where), include=["distances"]
        )
        return [
            (chunk_id, 1.0 - float(distance))
            for chunk_id, distance in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    def reset(self) -> None:
        self.store.reset_collection()

    def close(self) -> None:
        """Release this index's Chroma client (the on-disk system stops with the last client of its path)."""
        close_client(self.client)
