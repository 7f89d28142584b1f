"""Structure-aware chunking: offsets, sizes, section paths, sentence boundaries, stable ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.parsers import PageSpan, parse_file
from knowledge.types import Chunk

SAMPLE = Path(__file__).resolve().parents[2] / "corpus" / "sample" / "osaka_r5_zaitaku_renkei_progress.txt"
DOC_ID = "sample/osaka_r5_zaitaku_renkei_progress.txt"
SENTENCE_ENDS = "。！？!?"


@pytest.fixture(scope="module")
def sample_text() -> str:
    return parse_file(SAMPLE).text


@pytest.fixture(scope="module")
def sample_chunks(sample_text: str) -> list[Chunk]:
    return chunk_document(DOC_ID, sample_text)


def _containing(chunks: list[Chunk], phrase: str) -> Chunk:
    found = [chunk for chunk in chunks if phrase in chunk.text]
    assert len(found) == 1, f"{phrase!r} in {len(found)} chunks"
    return found[0]


def _ends_cleanly(text: str, start: int, end: int) -> bool:
    """A chunk starts at a line start or after a sentence end, and ends at a line end or a sentence end."""
    starts_ok = start == 0 or text[start - 1] == "\n" or text[:start].rstrip()[-1] in SENTENCE_ENDS
    ends_ok = end == len(text) or text[end] == "\n" or text[end - 1] in SENTENCE_ENDS
    return starts_ok and ends_ok


def test_offsets_are_exact_and_chunks_cover_the_text(sample_text: str, sample_chunks: list[Chunk]) -> None:
    assert [chunk.ordinal for chunk in sample_chunks] == list(range(len(sample_chunks)))
    previous_end = 0
    for chunk in sample_chunks:
        assert sample_text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert chunk.start >= previous_end
        assert sample_text[previous_end : chunk.start].strip() == ""  # nothing is dropped
        previous_end = chunk.end
    assert sample_text[previous_end:].strip() == ""


def test_sizes_within_bounds(sample_chunks: list[Chunk]) -> None:
    sizes = [len(chunk.text) for chunk in sample_chunks]
    assert max(sizes) <= 600
    assert sum(size >= 200 for size in sizes) >= 0.7 * len(sizes)  # short ones only at section edges
    assert 8 <= len(sample_chunks) <= 40


def test_never_split_mid_sentence(sample_text: str, sample_chunks: list[Chunk]) -> None:
    for chunk in sample_chunks:
        assert _ends_cleanly(sample_text, chunk.start, chunk.end), chunk.text[:40]


def test_section_paths_of_known_headings(sample_chunks: list[Chunk]) -> None:
    onboarding = _containing(sample_chunks, "健康局より事業の概要を説明")
    assert onboarding.section_path[0] == "取組み３ 区役所・相談支援室に対する積極的支援"
    assert "② 相談支援室への支援" in onboarding.section_path
    assert onboarding.text.startswith("② 相談支援室への支援")  # the chunk begins at its heading

    purpose = _containing(sample_chunks, "区域を越えた専門職の連携の強化")
    assert purpose.section_path[0] == "取組み２ 広域連携の仕組みづくり"

    briefing = _containing(sample_chunks, "区担当者43名（うち新任者30名）")
    assert briefing.section_path[-1] == "① 在宅医療・介護連携推進事業 区担当者等説明会の開催"

    survey = _containing(sample_chunks, "医療機関マップの更新")
    assert survey.section_path[-1] == "④ 区役所及び相談支援室への個別支援"

    indicators = _containing(sample_chunks, "（２）区役所・相談支援室への取組み調査")
    assert indicators.section_path == (
        "取組み１ 事業の進捗管理",
        "（２）区役所・相談支援室への取組み調査",
        "【これまでの取組み】",
    )


def test_block_training_table_stays_in_one_chunk(sample_chunks: list[Chunk]) -> None:
    table = _containing(sample_chunks, "【開催日・場所・講師】")
    for phrase in (
        "北ブロック",
        "南ブロック",
        "中央区民センター",
        "東成区民センター",
        "港区民センター",
        "住吉区民センター",
        "おおさか往診クリニック",
        "みみはら在宅クリニック",
    ):
        assert phrase in table.text
    assert table.section_path[-1] == "【開催日・場所・講師】"
    assert table.text.startswith("【開催日・場所・講師】")


def test_list_items_are_not_headings(sample_chunks: list[Chunk]) -> None:
    for chunk in sample_chunks:
        assert not any(part.startswith(("①令和４年度", "① 看取り", "第２部")) for part in chunk.section_path)


def test_metadata_is_chroma_safe(sample_chunks: list[Chunk]) -> None:
    for chunk in sample_chunks:
        assert chunk.metadata["section"] == chunk.section
        assert chunk.metadata["ordinal"] == chunk.ordinal
        assert chunk.metadata["document_id"] == DOC_ID
        assert all(isinstance(value, (str, int, float, bool)) for value in chunk.metadata.values())


def test_deterministic_and_unique_ids(sample_text: str, sample_chunks: list[Chunk]) -> None:
    again = chunk_document(DOC_ID, sample_text)
    assert again == sample_chunks
    ids = [chunk.chunk_id for chunk in sample_chunks]
    assert len(set(ids)) == len(ids)
    assert all(len(chunk_id) == 16 for chunk_id in ids)
    assert {c.chunk_id for c in chunk_document("other.txt", sample_text)}.isdisjoint(ids)


def test_ids_survive_edits_elsewhere(sample_text: str, sample_chunks: list[Chunk]) -> None:
    edited = sample_text.replace(
        "・グループワークで色々話せる雰囲気が良かった", "・グループワークの雰囲気がとても良かったので、次回も参加したい"
    )
    edited = edited.replace(
        "医療と介護の両方を必要とする", "医療と介護の両方を日常的に必要とする"
    )  # shifts every offset
    assert edited != sample_text
    new_ids = {chunk.chunk_id for chunk in chunk_document(DOC_ID, edited)}
    untouched = [
        chunk
        for chunk in sample_chunks
        if "雰囲気が良かった" not in chunk.text and "両方を必要とする" not in chunk.text
    ]
    assert len(untouched) >= len(sample_chunks) - 3
    assert all(chunk.chunk_id in new_ids for chunk in untouched)
    changed = _containing(sample_chunks, "雰囲気が良かった")
    assert changed.chunk_id not in new_ids


def test_identical_passages_get_distinct_ids() -> None:
    text = "【お知らせ】\n" + "同じ文です。" * 40 + "\n【お知らせ】\n" + "同じ文です。" * 40
    chunks = chunk_document("dup.txt", text)
    assert len({chunk.chunk_id for chunk in chunks}) == len(chunks)


def test_pages_from_page_spans() -> None:
    page_one = "取組み１ 事業の進捗管理\n" + "評価指標を設定した。" * 30
    page_two = "取組み２ 広域連携の仕組みづくり\n" + "研修会を開催した。" * 30
    text = page_one + "\n\n" + page_two
    pages = (PageSpan(0, len(page_one), 1), PageSpan(len(page_one) + 2, len(text), 2))
    chunks = chunk_document("p.pdf", text, pages)
    assert [chunk.page for chunk in chunks] == [1, 2]
    assert [chunk.metadata["page"] for chunk in chunks] == [1, 2]
    assert all("page" not in chunk.metadata for chunk in chunk_document("p.txt", text))


def test_long_section_is_split_at_line_ends_within_bounds() -> None:
    lines = [f"・{n}番目の意見として、会議の進め方について多くの学びがあったと感じた" for n in range(40)]
    text = "【研修会の内容について】\n" + "\n".join(lines)
    chunks = chunk_document("long.txt", text)
    assert len(chunks) > 3
    assert all(200 <= len(chunk.text) <= 600 for chunk in chunks)
    assert all(_ends_cleanly(text, chunk.start, chunk.end) for chunk in chunks)
    assert all(chunk.section_path == ("【研修会の内容について】",) for chunk in chunks)


def test_over_long_line_split_after_sentences_then_commas_then_hard() -> None:
    sentences = "地域で暮らし続けるための支援を行う。" * 100  # one line, 1,800 characters
    chunks = chunk_document("s.txt", sentences)
    assert all(len(chunk.text) <= 600 and chunk.text.endswith("。") for chunk in chunks)
    clauses = "連携を進め、" * 300
    assert all(c.text.endswith("、") or c.end == len(clauses) for c in chunk_document("c.txt", clauses))
    solid = "あ" * 5000
    hard = chunk_document("h.txt", solid)
    assert "".join(chunk.text for chunk in hard) == solid
    assert all(len(chunk.text) <= 600 for chunk in hard)


def test_short_sections_merge_only_within_their_parent() -> None:
    text = (
        "取組み１ 事業の進捗管理\n【日 時】\n令和５年５月29日\n【内 容】\n事業の進め方について\n"
        "取組み２ 広域連携の仕組みづくり\n【目 的】\n区域を越えた連携の強化\n"
    )
    chunks = chunk_document("m.txt", text)
    # the first chunk holds two sibling sections (their parent is its path); the second one section
    assert [chunk.section_path for chunk in chunks] == [
        ("取組み１ 事業の進捗管理",),
        ("取組み２ 広域連携の仕組みづくり", "【目 的】"),
    ]
    assert "【内 容】" in chunks[0].text and "【目 的】" in chunks[1].text


def test_markdown_headings_nest() -> None:
    body = "本文です。" * 50
    text = f"# 報告書\n\n## 目的\n{body}\n\n## 結果\n### 参加者\n{body}\n"
    chunks = chunk_document("r.md", text)
    assert [chunk.section_path for chunk in chunks] == [("報告書", "目的"), ("報告書", "結果", "参加者")]


def test_text_without_headings_and_empty_text() -> None:
    assert chunk_document("e.txt", "  \n\n ") == []
    chunks = chunk_document("plain.txt", "ただの本文です。")
    assert len(chunks) == 1 and chunks[0].section_path == () and chunks[0].metadata["section"] == ""


def test_rejects_inconsistent_sizes() -> None:
    with pytest.raises(ValueError):
        chunk_document("x.txt", "本文", target=700, max_chars=600)
