"""Chooses the embedding implementation the settings ask for; each is loaded once per process."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, cast

from knowledge.config import Settings

if TYPE_CHECKING:  # imported with the model itself, never by a process that does not embed
    from langchain_core.embeddings import Embeddings

HASHING = "hashing"

_loaded: dict[tuple[str | None, str], Embeddings] = {}
_lock = threading.Lock()


def load_embeddings(settings: Settings) -> Embeddings:
    key = (settings.retrieval.embedding_model, str(settings.storage.model_cache_dir.resolve()))
    with _lock:
        if key not in _loaded:
            if settings.retrieval.embedding_model == HASHING:
                from knowledge.hashing_embeddings import HashingEmbeddings

                _loaded[key] = HashingEmbeddings()
            else:
                from knowledge.embeddings import get_embeddings  # imports sentence-transformers: slow

                # LangChain's Embeddings interface, provided without inheriting it (see knowledge.embedding_base)
                _loaded[key] = cast("Embeddings", get_embeddings(settings))
        return _loaded[key]


def model_identity(embeddings: Embeddings) -> tuple[str, int]:
    """(model name, dimension) recorded on the Chroma collection."""
    name = str(getattr(embeddings, "model_name", type(embeddings).__name__))
    dimension = getattr(embeddings, "dimension", None)
    if dimension is None:
        dimension = len(embeddings.embed_query("次元"))
    return name, int(dimension)
