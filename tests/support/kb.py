"""Knowledge-base helpers: settings pointing at temp dirs, embeddings that count (the fixtures ``corpus_copy`` and
``kb_factory`` are in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

from langchain_core.embeddings import Embeddings

from knowledge.settings import Settings


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


def make_settings(data_dir: Path, corpus: Path, **overrides: object) -> Settings:
    return Settings(data_dir=data_dir, corpus_dirs=[corpus], **overrides)  # type: ignore[arg-type]
