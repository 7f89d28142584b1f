"""Knowledge-base helpers: settings pointing at temp dirs, embeddings that count (the fixtures ``corpus_copy`` and
``kb_factory`` are in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from knowledge.config import RetrievalSettings, Settings, StorageSettings


class CountingEmbeddings(Embeddings):
    """Wraps a real embedding and counts the texts it was asked to embed."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.documents_embedded = 0
        self.model_name = getattr(inner, "model_name", "inner")
        self.dimension = getattr(inner, "dimension", None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents_embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def make_settings(data_dir: Path, corpus: Path, *, embedding_model: str, **storage: Any) -> Settings:
    """Settings over ``data_dir`` and ``corpus``; ``storage`` sets more of that group (``chroma_url``, ...)."""
    return Settings(
        storage=StorageSettings(data_dir=data_dir, corpus_dirs=[corpus], **storage),
        retrieval=RetrievalSettings(embedding_model=embedding_model),
    )
