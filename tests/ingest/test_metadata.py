"""Document ids and inferred metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.metadata import DocMeta, document_id_for, fiscal_year_from, infer_metadata, read_sidecar, wards_mentioned
from ingest.parsers import parse_file
from records.reference import WARDS

SAMPLE = Path(__file__).resolve().parents[2] / "corpus" / "sample" / "osaka_r5_zaitaku_renkei_progress.txt"


# --- wards -----------------------------------------------------------------------------------


def test_longer_ward_names_are_not_double_counted() -> None:
    assert wards_mentioned("東淀川区と西淀川区の取組み") == ("西淀川区", "東淀川区")
    assert wards_mentioned("東住吉区役所") == ("東住吉区",)
    assert wards_mentioned("淀川区・港区のACPの取組み報告") == ("港区", "淀川区")


def test_both_overlapping_wards_when_both_are_named() -> None:
    assert wards_mentioned("住吉区民センター（東住吉区から参加）") == ("住吉区", "東住吉区")


def test_wards_in_city_order_and_no_false_hits() -> None:
    assert wards_mentioned("大阪市北区、中央区、24区、区役所") == ("北区", "中央区")
    assert wards_mentioned("札幌市の研修会") == ()


# --- fiscal year -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "year"),
    [
        ("令和5年度", 2023),
        ("令和５", 2023),
        ("R5", 2023),
        ("平成30年度", 2018),
        ("令和元年度", 2019),
        ("H31", 2019),
        ("2024", 2024),
        ("2022年度", 2022),
        ("来年度", None),
    ],
)
def test_fiscal_year_from(value: str, year: int | None) -> None:
    assert fiscal_year_from(value) == year


def test_fiscal_year_from_the_most_mentioned_year_in_the_text() -> None:
    text = "在宅医療の活動まとめ\n令和４年度の振り返り\n令和５年度の取組み\n令和５年度の評価\n平成30年度 開催"
    assert infer_metadata("docs/report.txt", text, {}).fiscal_year == 2023


def test_fiscal_year_from_title_beats_text_and_path_hint_is_used() -> None:
    text = "令和５年度の取組み\n令和５年度の評価"
    assert infer_metadata("a.txt", text, {}, title="令和元年度 研修報告").fiscal_year == 2019
    assert infer_metadata("osaka_h30_report.txt", "本文のみ", {}).fiscal_year == 2018
    assert infer_metadata("report.txt", "本文のみ", {}).fiscal_year is None


def test_explicit_fiscal_year_and_its_errors() -> None:
    assert infer_metadata("a.txt", "令和５年度", {"fiscal_year": "令和3"}).fiscal_year == 2021
    with pytest.raises(ValueError, match="fiscal_year"):
        infer_metadata("a.txt", "本文", {"fiscal_year": "someday"})


# --- document type ---------------------------------------------------------------------------


def test_doc_type_from_front_matter_and_invalid_values() -> None:
    assert infer_metadata("a.txt", "本文", {"doc_type": "ward_finding"}).doc_type == "ward_finding"
    with pytest.raises(ValueError, match="doc_type"):
        infer_metadata("a.txt", "本文", {"doc_type": "memo"})


def test_doc_type_inferred_from_keywords() -> None:
    training = "令和５年度 多職種研修会 報告\n講師：医師\nアンケート結果 回収率91.5％\n研修の感想"
    assert infer_metadata("t.txt", training, {}).doc_type == "training_writeup"
    ward = "淀川区の取組みと課題\n淀川区では連携ツールの作成が課題となっている。現状として…"
    assert infer_metadata("w.txt", ward, {}).doc_type == "ward_finding"
    program = "在宅医療・介護連携推進事業 進捗管理\n事業の取組み状況と評価指標"
    assert infer_metadata("p.txt", program, {}).doc_type == "program_document"
    assert infer_metadata("x.txt", "お知らせ\n明日は休館日です。", {}).doc_type == "other"


def test_sample_report_metadata() -> None:
    parsed = parse_file(SAMPLE)
    meta = infer_metadata("sample/osaka_r5_zaitaku_renkei_progress.txt", parsed.text, parsed.front_matter)
    assert isinstance(meta, DocMeta)
    assert meta.doc_type == "program_document"
    assert meta.fiscal_year == 2023
    assert meta.wards == WARDS  # the block table names all 24 wards
    assert meta.title


def test_title_precedence_and_explicit_wards() -> None:
    meta = infer_metadata("dir/notes.txt", "１. 目次\n相談支援室の訪問結果について\n本文", {})
    assert meta.title == "相談支援室の訪問結果について"  # numbered TOC line skipped
    assert infer_metadata("dir/notes.txt", "・箇条書き", {}).title == "notes"
    meta = infer_metadata("a.txt", "北区と港区", {"title": "指定の題", "wards": "都島、北区"}, title="見出し")
    assert meta.title == "指定の題"
    assert meta.wards == ("北区", "都島区")
    with pytest.raises(ValueError, match="ward"):
        infer_metadata("a.txt", "本文", {"wards": "札幌区"})


# --- document ids ----------------------------------------------------------------------------


def test_document_id_is_the_posix_relative_path(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "sub dir").mkdir(parents=True)
    file = root / "sub dir" / "報告.txt"
    file.write_text("x", encoding="utf-8")
    assert document_id_for(file, root) == "sub dir/報告.txt"
    assert document_id_for(root / "sub dir" / ".." / "sub dir" / "報告.txt", root) == "sub dir/報告.txt"


def test_document_id_outside_the_root_and_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("x", encoding="utf-8")
    link = root / "link.txt"
    link.symlink_to(outside)
    with pytest.raises(ValueError, match="outside"):
        document_id_for(outside, root)
    with pytest.raises(ValueError, match="outside"):
        document_id_for(link, root)  # resolves to a file outside the corpus
    inside = root / "real.txt"
    inside.write_text("y", encoding="utf-8")
    (root / "alias.txt").symlink_to(inside)
    assert document_id_for(root / "alias.txt", root) == "real.txt"


# --- sidecar ---------------------------------------------------------------------------------


def test_sidecar_metadata_is_read_and_flattened(tmp_path: Path) -> None:
    document = tmp_path / "report.pdf"
    document.write_bytes(b"%PDF")
    assert read_sidecar(document) == {}
    (tmp_path / "report.pdf.meta.yaml").write_text(
        "title: 令和5年度 進捗報告\ndoc_type: program_document\nwards: [北区, 港区]\nfiscal_year: 令和5\n",
        encoding="utf-8",
    )
    sidecar = read_sidecar(document)
    assert sidecar == {
        "title": "令和5年度 進捗報告",
        "doc_type": "program_document",
        "wards": "北区, 港区",
        "fiscal_year": "令和5",
    }
    meta = infer_metadata("report.pdf", "本文", sidecar)
    assert (meta.title, meta.doc_type, meta.fiscal_year, meta.wards) == (
        "令和5年度 進捗報告",
        "program_document",
        2023,
        ("北区", "港区"),
    )


def test_sidecar_that_is_not_a_mapping(tmp_path: Path) -> None:
    document = tmp_path / "a.txt"
    (tmp_path / "a.txt.meta.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"a\.txt\.meta\.yaml"):
        read_sidecar(document)
