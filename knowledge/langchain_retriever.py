"""LangChain's retriever interface over :func:`knowledge.retriever.hybrid_search` (kept apart: see there)."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from knowledge.base import KnowledgeBase
from knowledge.retriever import Mode, hybrid_search, to_document


class HybridRetriever(BaseRetriever):
    """LangChain retriever over :func:`hybrid_search`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kb: KnowledgeBase
    k: int = 5
    fetch_k: int = 30
    mode: Mode = "hybrid"
    where: dict[str, Any] | None = None
    neighbours: int = 0

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        results = hybrid_search(
            self.kb,
            query,
            k=self.k,
            fetch_k=self.fetch_k,
            mode=self.mode,
            where=self.where,
            neighbours=self.neighbours,
        )
        return [to_document(item) for item in results]
