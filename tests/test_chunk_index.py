"""The ChunkIndex protocol: one behaviour contract kept by the dense index (a real Chroma in a temp dir) and the
lexical index (real Sudachi and BM25), and the knowledge base's side of it (filters, reset, dispose, lock path)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingest.pipeline import IngestRun
from knowledge.base import KnowledgeBase, ward_flags
from knowledge.hashing_embeddings import HashingEmbeddings
from knowledge.index import ChunkIndex, Filters
from knowledge.lexical import LexicalIndex
from knowledge.retriever import hybrid_search
from knowledge.types import Chunk
from knowledge.vectorstore import VectorIndex
from tests.kb_fixtures import corpus_copy, kb_factory, make_settings  # noqa: F401 - fixtures


def chunk(chunk_id: str, document_id: str, text: str, **metadata: str | int | float | bool) -> Chunk:
    return Chunk(chunk_id, document_id, text, 0, len(text), metadata=metadata)


CHUNKS = [
    chunk(
        "r1",
        "report",
        "在宅医療と介護の連携について報告する。",
        doc_type="report",
        fiscal_year=2023,
        **ward_flags(["北区"]),
    ),
    chunk(
        "r2",
        "report",
        "淀川区と港区のACPの取組みを報告した。",
        doc_type="report",
        fiscal_year=2023,
        **ward_flags(["淀川区", "港区"]),
    ),
    chunk(
        "m1",
        "minutes",
        "北ブロックの多職種研修会を開催する。",
        doc_type="minutes",
        fiscal_year=2022,
        **ward_flags(["北区", "淀川区"]),
    ),
    chunk("n1", "notice", "研修会の申込みは区役所で受け付ける。", doc_type="notice", fiscal_year=2024),
]


@dataclass
class Subject:
    index: ChunkIndex[Any]
    query: Callable[[str], object]  # what the index's search takes for a text: a vector or the text itself


@pytest.fixture(params=["vector", "lexical"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    if request.param == "lexical":
        yield Subject(LexicalIndex(tmp_path / "lexical"), lambda text: text)
        return
    embeddings = HashingEmbeddings()
    settings = make_settings(tmp_path / "data", tmp_path, embedding_model="hashing")
    index = VectorIndex(settings, embeddings, embeddings.model_name, embeddings.dimension)
    yield Subject(index, embeddings.embed_query)
    index.close()


def test_both_indexes_keep_the_protocol(tmp_path: Path) -> None:
    embeddings = HashingEmbeddings()
    settings = make_settings(tmp_path / "data", tmp_path, embedding_model="hashing")
    vectors = VectorIndex(settings, embeddings, embeddings.model_name, embeddings.dimension)
    try:
        assert isinstance(vectors, ChunkIndex)
        assert isinstance(LexicalIndex(), ChunkIndex)
        assert not isinstance(object(), ChunkIndex)
    finally:
        vectors.close()


def test_write_count_filter_delete(subject: Subject) -> None:
    index = subject.index
    assert index.count() == 0 and index.ids() == set() and index.filter() == set()
    assert index.write(CHUNKS) == 4
    assert index.count() == 4 and index.ids() == index.filter() == {"r1", "r2", "m1", "n1"}

    # equality, on the chunk's own document id as on its metadata; every clause must hold
    assert index.filter({"document_id": "report"}) == {"r1", "r2"}
    assert index.filter({"doc_type": "minutes"}) == {"m1"}
    assert index.filter({"fiscal_year": 2023}) == {"r1", "r2"}
    assert index.filter({"doc_type": "report", "fiscal_year": 2022}) == set()
    assert index.filter({"doc_type": "nothing-like-this"}) == set()
    # a list means any of; an empty list allows nothing
    assert index.filter({"doc_type": ["minutes", "notice"]}) == {"m1", "n1"}
    assert index.filter({"fiscal_year": [2022, 2024], "document_id": ["minutes"]}) == {"m1"}
    assert index.filter({"doc_type": ("report",)}) == {"r1", "r2"}
    assert index.filter({"doc_type": []}) == set()
    # a ward is a flag like any other key: the indexes know no key by name
    assert index.filter(ward_flags(["淀川区"])) == {"r2", "m1"}
    assert index.filter({**ward_flags(["北区"]), "doc_type": ["minutes", "notice"]}) == {"m1"}

    # a write with a known id replaces the chunk and its metadata
    assert index.write([chunk("n1", "notice", "研修会の申込みは区役所で受け付ける。", doc_type="minutes")]) == 1
    assert index.count() == 4 and index.filter({"doc_type": "minutes"}) == {"m1", "n1"}
    assert index.filter({"fiscal_year": 2024}) == set()

    assert index.delete(["m1", "no-such-chunk"]) == 1
    assert index.delete(["m1"]) == 0
    assert index.count() == 3 and index.ids() == {"r1", "r2", "n1"}
    assert index.filter(ward_flags(["淀川区"])) == {"r2"}


def test_search_keeps_to_the_filters(subject: Subject) -> None:
    index = subject.index
    index.write(CHUNKS)
    query = subject.query("研修会の報告")
    everything = index.search(query, 10)
    assert everything and {chunk_id for chunk_id, _ in everything} <= index.ids()
    scores = [score for _, score in everything]
    assert scores == sorted(scores, reverse=True)
    wheres: list[Filters] = [{"doc_type": "report"}, {"doc_type": ["minutes", "notice"]}, ward_flags(["北区"])]
    for where in wheres:
        hits = index.search(query, 10, where)
        assert hits and {chunk_id for chunk_id, _ in hits} <= index.filter(where), where
    assert index.search(query, 10, {"doc_type": []}) == []
    assert index.search(query, 10, {"doc_type": "nothing-like-this"}) == []
    assert len(index.search(query, 1)) == 1


# --- the knowledge base's side ------------------------------------------------------------------------------
def test_search_filters_are_translated_for_the_indexes() -> None:
    assert KnowledgeBase.index_filters(None) is None and KnowledgeBase.index_filters({}) is None
    assert KnowledgeBase.index_filters({"ward": "北区", "doc_type": ["report", "minutes"]}) == [
        {"ward:北区": True, "doc_type": ["report", "minutes"]}
    ]
    assert KnowledgeBase.index_filters({"doc_type": "report"}) == [{"doc_type": "report"}]
    # several wards: one clause each (a chunk may meet any), the other keys in every clause, repeats once
    assert KnowledgeBase.index_filters({"ward": ["北区", "港区", "北区"], "fiscal_year": 2023}) == [
        {"ward:北区": True, "fiscal_year": 2023},
        {"ward:港区": True, "fiscal_year": 2023},
    ]
    with pytest.raises(ValueError, match="unknown filter"):
        KnowledgeBase.index_filters({"wards": "北区"})
    with pytest.raises(ValueError, match="at least one ward"):
        KnowledgeBase.index_filters({"ward": []})


def test_a_filter_on_several_wards_finds_the_chunks_of_any(tmp_path, kb_factory) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "wards"
    corpus.mkdir()
    pages = {"nishinari.md": "西成区", "taisho.md": "大正区", "kita.md": "北区"}
    for name, ward in pages.items():
        (corpus / name).write_text(
            f"# {ward}の取組み\n\n{ward}では在宅医療の相談会を毎月開いています。", encoding="utf-8"
        )
    kb, _ = kb_factory(corpus)
    IngestRun(kb).run([corpus])
    for mode in ("dense", "lexical"):
        one = hybrid_search(kb, "在宅医療の相談会", k=20, mode=mode, where={"ward": "西成区"})
        both = hybrid_search(kb, "在宅医療の相談会", k=20, mode=mode, where={"ward": ["西成区", "大正区"]})
        assert {r.chunk.document_id for r in one} == {"nishinari.md"}, mode
        assert {r.chunk.document_id for r in both} == {"nishinari.md", "taisho.md"}, mode
        assert len({r.chunk.chunk_id for r in both}) == len(both), mode
    kb.dispose()


def test_list_filters_apply_to_both_sides(corpus_copy, kb_factory) -> None:  # type: ignore[no-untyped-def]
    (corpus_copy / "nishinari.md").write_text(
        "# 西成区の取組み\n\n西成区では在宅医療の相談会を毎月開いています。", encoding="utf-8"
    )
    kb, _ = kb_factory(corpus_copy)
    IngestRun(kb).run([corpus_copy])
    documents = ["nishinari.md", "osaka_r5_zaitaku_renkei_progress.txt"]
    for mode in ("dense", "lexical"):
        results = hybrid_search(kb, "在宅医療の取組み", k=20, mode=mode, where={"document_id": documents})
        assert {r.chunk.document_id for r in results} == set(documents), mode
    kb.dispose()


def test_reset_dispose_and_lock_path(corpus_copy, kb_factory) -> None:  # type: ignore[no-untyped-def]
    kb, _ = kb_factory(corpus_copy)
    assert kb.lock_path == kb.settings.storage.data_dir / "ingest.lock"
    IngestRun(kb).run([corpus_copy])
    assert kb.counts()["chunks"] > 0 and kb.vectors.count() > 0 and kb.lexical.count() > 0

    kb.dispose()  # connections and the Chroma client go; the next use reopens them
    assert hybrid_search(kb, "在宅医療", k=3, mode="dense")

    kb.reset()
    assert kb.counts()["chunks"] == 0 and kb.vectors.count() == 0 and kb.lexical.count() == 0
    assert not (kb.settings.storage.lexical_dir / "CURRENT").exists()
    with kb:  # a with block disposes of it at the end, as the server does with an ingest's instance
        IngestRun(kb).run([corpus_copy])
        kb.refresh(force=True)
        assert hybrid_search(kb, "在宅医療", k=3)
