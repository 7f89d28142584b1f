"""Hybrid retrieval over a real Chroma + BM25 index: the LangChain retriever, filters, concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ingest.pipeline import IngestRun
from knowledge.langchain_retriever import HybridRetriever
from knowledge.retriever import hybrid_search, search_within

EXTRA = "---\ndoc_type: ward_finding\n---\n# 西成区の取組み\n\n西成区では認知症カフェと連携した在宅医療の相談会を毎月開いています。"


@pytest.fixture
def kb(corpus_copy, kb_factory):  # type: ignore[no-untyped-def]
    (corpus_copy / "nishinari.md").write_text(EXTRA, encoding="utf-8")
    knowledge_base, _ = kb_factory(corpus_copy)
    IngestRun(knowledge_base).run([corpus_copy])
    return knowledge_base


def test_langchain_retriever_returns_documents_with_scores(kb) -> None:  # type: ignore[no-untyped-def]
    documents = HybridRetriever(kb=kb, k=3).invoke("認知症カフェ")
    assert documents and "認知症カフェ" in documents[0].page_content
    meta = documents[0].metadata
    assert meta["document_id"] == "nishinari.md" and meta["chunk_id"] == documents[0].id
    assert meta["lexical_rank"] == 1 and meta["score"] > 0


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"document_id": "nishinari.md"}, {"nishinari.md"}),
        ({"document_id": "osaka_r5_zaitaku_renkei_progress.txt"}, {"osaka_r5_zaitaku_renkei_progress.txt"}),
        ({"ward": "西成区"}, None),  # chunks mentioning 西成区, from either document
        ({"doc_type": "program_document"}, {"osaka_r5_zaitaku_renkei_progress.txt"}),
    ],
)
def test_filters_apply_to_both_sides(kb, where, expected) -> None:  # type: ignore[no-untyped-def]
    for mode in ("dense", "lexical", "hybrid"):
        results = hybrid_search(kb, "在宅医療の取組み", k=10, mode=mode, where=where)
        assert results, (mode, where)
        documents = {r.chunk.document_id for r in results}
        if expected is not None:
            assert documents <= expected, (mode, where, documents)
        else:
            assert all("西成区" in r.chunk.text for r in results), mode


def test_search_within_ranks_only_the_named_documents(kb) -> None:  # type: ignore[no-untyped-def]
    """The sample report's passages win a corpus-wide search for 在宅医療; searched inside 西成区's note alone,
    its one passage comes first, ranked against its own document only."""
    inside = search_within(kb, "在宅医療の相談会", ["nishinari.md"], k=3)
    assert [r.chunk.document_id for r in inside] == ["nishinari.md"]
    assert inside[0].lexical_rank == 1
    both = search_within(kb, "在宅医療の相談会", ["nishinari.md", "osaka_r5_zaitaku_renkei_progress.txt"], k=4)
    assert len(both) == 4 and {r.chunk.document_id for r in both} == {
        "nishinari.md",
        "osaka_r5_zaitaku_renkei_progress.txt",
    }
    assert [r.score for r in both] == sorted((r.score for r in both), reverse=True)
    assert search_within(kb, "在宅医療", [], k=3) == []


def test_unknown_filter_is_refused(kb) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown filter"):
        hybrid_search(kb, "研修", where={"colour": "red"})


@pytest.mark.parametrize("query", ["", "   ", "？？？", "。、・"])
def test_empty_or_symbol_queries_return_nothing(kb, query: str) -> None:  # type: ignore[no-untyped-def]
    assert hybrid_search(kb, query, mode="lexical") == []


def test_neighbours_expand_within_the_section(kb) -> None:  # type: ignore[no-untyped-def]
    results = hybrid_search(kb, "南ブロック 住吉区民センター", k=1, neighbours=1)
    assert results
    for neighbour in results[0].neighbours:
        assert neighbour.document_id == results[0].chunk.document_id
        assert abs(neighbour.ordinal - results[0].chunk.ordinal) == 1


def test_concurrent_queries_while_an_ingest_commits(kb, corpus_copy) -> None:  # type: ignore[no-untyped-def]
    queries = ["認知症カフェ", "北ブロックの講師", "合同研修会の回収率", "ACPの取組み"] * 10

    def ask(query: str) -> list[str]:
        return [r.chunk.chunk_id for r in hybrid_search(kb, query, k=3)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(ask, q) for q in queries]
        (corpus_copy / "nishinari.md").write_text(
            EXTRA + "\n\n訪問看護ステーションとの連絡会も始めました。", encoding="utf-8"
        )
        IngestRun(kb).run([corpus_copy])
        answers = [f.result() for f in futures]
    assert all(answers)
    live = kb.catalog.live_chunk_ids()
    kb.refresh()
    assert all(set(ask(q)) <= live for q in set(queries))
