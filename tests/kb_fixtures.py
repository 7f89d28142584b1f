"""Knowledge-base fixtures: settings pointing at temp dirs, a real Chroma and a real SQLite."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings

from knowledge.base import KnowledgeBase
from knowledge.config import RetrievalSettings, Settings, StorageSettings
from knowledge.hashing_embeddings import HashingEmbeddings

REPO = Path(__file__).resolve().parents[1]
SAMPLE_CORPUS = REPO / "corpus" / "sample"


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


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(SAMPLE_CORPUS, target)
    return target


@pytest.fixture
def kb_factory(tmp_path: Path) -> Callable[..., tuple[KnowledgeBase, CountingEmbeddings]]:
    """A fresh KnowledgeBase (hashing embeddings, counted) over ``tmp_path/data``."""

    def build(corpus: Path, embeddings: Embeddings | None = None) -> tuple[KnowledgeBase, CountingEmbeddings]:
        counting = CountingEmbeddings(embeddings or HashingEmbeddings())
        settings = make_settings(tmp_path / "data", corpus, embedding_model="hashing")
        return KnowledgeBase(settings, embeddings=counting), counting

    return build
