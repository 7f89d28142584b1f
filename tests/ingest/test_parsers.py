"""parse_file on every supported format, with fixtures generated in tmp_path."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import docx
import pytest
from reportlab.pdfgen import canvas

from ingest.chunking import chunk_document
from ingest.parsers import ParseError, UnsupportedFileType, decode_bytes, parse_file
from tests.support.documents import write_pdf as _pdf

SAMPLE = Path(__file__).resolve().parents[2] / "corpus" / "sample" / "osaka_r5_zaitaku_renkei_progress.txt"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- plain text ------------------------------------------------------------------------------


def test_utf8_text(tmp_path: Path) -> None:
    parsed = parse_file(_write(tmp_path / "a.txt", "北ブロックの研修会。\r\n講 師\r\n".encode()))
    assert parsed.text == "北ブロックの研修会。\n講 師"
    assert parsed.pages == () and parsed.title is None and parsed.front_matter == {}


def test_utf8_bom_is_stripped(tmp_path: Path) -> None:
    parsed = parse_file(_write(tmp_path / "bom.txt", "\ufeff令和５年度の取組み".encode("utf-8")))
    assert parsed.text == "令和５年度の取組み"


def test_short_cp932_text_is_detected_as_cp932(tmp_path: Path) -> None:
    text = "大阪市の研修会"
    assert decode_bytes(text.encode("cp932")) == text
    parsed = parse_file(_write(tmp_path / "sjis.txt", "新任コーディネーターへの支援\n①健康局より説明".encode("cp932")))
    assert parsed.text == "新任コーディネーターへの支援\n①健康局より説明"  # ① exists in CP932 only


def test_euc_jp_text_is_not_mistaken_for_cp932() -> None:
    text = "相談支援室への支援です。北区と港区。"
    assert decode_bytes(text.encode("euc_jp")) == text


def test_front_matter_in_txt_and_markdown(tmp_path: Path) -> None:
    md = "---\ntitle: 研修報告\ndoc_type: training_writeup\nwards: [北区, 港区]\nfiscal_year: 2023\n---\n# 見出し\n本文です。\n"
    parsed = parse_file(_write(tmp_path / "r.md", md.encode()))
    assert parsed.front_matter == {
        "title": "研修報告",
        "doc_type": "training_writeup",
        "wards": "北区, 港区",
        "fiscal_year": "2023",
    }
    assert parsed.text == "# 見出し\n本文です。"
    assert parsed.title == "研修報告"
    parsed_txt = parse_file(_write(tmp_path / "r.txt", b"---\ndoc_type: ward_finding\n---\nbody"))
    assert parsed_txt.front_matter == {"doc_type": "ward_finding"} and parsed_txt.text == "body"


def test_markdown_title_from_first_heading_and_lines_kept(tmp_path: Path) -> None:
    md = "前置き\n\n# 多職種研修会の報告\n\n## 目的\n区域を越えた専門職の連携の強化をはかるための研修会を開催し、多くの参加者\n\nがあった\n"
    parsed = parse_file(_write(tmp_path / "m.md", md.encode()))
    assert parsed.title == "多職種研修会の報告"
    assert "多くの参加者\n\nがあった" in parsed.text  # authored Markdown is not re-wrapped


def test_dashes_that_are_not_front_matter_stay(tmp_path: Path) -> None:
    parsed = parse_file(_write(tmp_path / "d.txt", "---\nただの区切り線\n---\n本文".encode()))
    assert parsed.front_matter == {}
    assert parsed.text.startswith("---\nただの区切り線")


def test_sample_report_parses_and_rejoins_wrapped_lines() -> None:
    parsed = parse_file(SAMPLE)
    assert "住み慣れた地域で自分らしい暮らしを人生の最期まで" in parsed.text
    assert "： 令和５年９月29日（金） 14：00～17：00 東成区民センター" in parsed.text.split("\n")


# --- errors ----------------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="empty"):
        parse_file(_write(tmp_path / "e.txt", b""))


def test_whitespace_only_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="no text"):
        parse_file(_write(tmp_path / "w.md", b" \n\n\t\n"))


def test_binary_junk_named_txt(tmp_path: Path) -> None:
    junk = random.Random(7).randbytes(4096)
    with pytest.raises(ParseError, match="binary") as info:
        parse_file(_write(tmp_path / "junk.txt", junk))
    assert info.value.stage == "decode"


def test_binary_without_nul_bytes(tmp_path: Path) -> None:
    junk = bytes(b for b in random.Random(3).randbytes(8192) if b != 0)
    with pytest.raises(ParseError):
        parse_file(_write(tmp_path / "junk2.txt", junk))


def test_oversize_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.txt", "あ".encode() * 100)
    with pytest.raises(ParseError, match="too large"):
        parse_file(path, max_bytes=100)


def test_unknown_extension_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFileType) as info:
        parse_file(_write(tmp_path / "sheet.xlsx", b"PK\x03\x04"))
    assert isinstance(info.value, ParseError)


# --- PDF -------------------------------------------------------------------------------------


def test_japanese_pdf_with_pages(tmp_path: Path) -> None:
    path = _pdf(
        tmp_path / "r.pdf",
        [["令和５年度の取組み", "（１）区役所への支援。"], ["新任コーディネーターへの支援。"]],
        title="進捗報告",
    )
    parsed = parse_file(path)
    assert parsed.title == "進捗報告"
    assert [span.page_no for span in parsed.pages] == [1, 2]
    first, second = parsed.pages
    assert "（１）区役所への支援。" in parsed.text[first.start : first.end]
    assert parsed.text[second.start : second.end] == "新任コーディネーターへの支援。"
    assert second.end == len(parsed.text)


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.rect(100, 100, 300, 400, fill=1)
    pdf.showPage()
    pdf.save()
    with pytest.raises(ParseError, match="OCR is not supported"):
        parse_file(path)


def test_corrupt_pdf(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="PDF"):
        parse_file(_write(tmp_path / "bad.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage"))


def test_truncated_pdf(tmp_path: Path) -> None:
    good = _pdf(tmp_path / "ok.pdf", [["本文です。"]]).read_bytes()
    with pytest.raises(ParseError):
        parse_file(_write(tmp_path / "cut.pdf", good[: len(good) // 3]))


# --- DOCX ------------------------------------------------------------------------------------


def test_docx_paragraphs_headings_and_tables(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("区担当者等説明会", level=1)
    document.add_paragraph("令和５年５月29日に開催しました。")
    document.add_heading("参加者", level=2)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "区担当者", "43名"
    table.cell(1, 0).text, table.cell(1, 1).text = "コーディネーター", "28名"
    path = tmp_path / "m.docx"
    document.save(str(path))
    parsed = parse_file(path)
    assert parsed.title == "区担当者等説明会"
    assert parsed.text.split("\n") == [
        "# 区担当者等説明会",
        "令和５年５月29日に開催しました。",
        "## 参加者",
        "区担当者 | 43名",
        "コーディネーター | 28名",
    ]


def test_docx_that_is_not_a_zip(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="not a zip"):
        parse_file(_write(tmp_path / "fake.docx", "これはテキストです".encode()))


def test_docx_zip_bomb_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\x00" * (20 << 20))
    assert path.stat().st_size < 100_000
    with pytest.raises(ParseError, match="zip bomb"):
        parse_file(path)


def test_docx_expanding_past_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "large.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<w:document/>" + b" " * 5000)
    with pytest.raises(ParseError, match="zip bomb"):
        parse_file(path, max_bytes=1000)


# --- HTML ------------------------------------------------------------------------------------


def test_html_drops_scripts_and_keeps_blocks(tmp_path: Path) -> None:
    html = """<!doctype html><html><head><meta charset="utf-8"><title>研修会のご案内</title>
    <style>p { color: red }</style><script>alert("x")</script></head>
    <body><h1>多職種研修会</h1><p>日時：令和５年９月19日
    （火）</p><ul><li>北区</li><li>都島区</li></ul><script>var secret = 1;</script>
    <table><tr><th>会場</th><td>中央区民センター</td></tr></table></body></html>"""
    parsed = parse_file(_write(tmp_path / "p.html", html.encode()))
    assert parsed.title == "研修会のご案内"
    assert "alert" not in parsed.text and "secret" not in parsed.text and "color" not in parsed.text
    assert parsed.text.split("\n") == [
        "# 多職種研修会",
        "日時：令和５年９月19日 （火）",
        "・北区",
        "・都島区",
        "会場 | 中央区民センター",
    ]


def test_html_title_falls_back_to_h1_and_declared_charset(tmp_path: Path) -> None:
    html = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS"></head><body><h1>相談支援室</h1><p>本文</p></body></html>'
    parsed = parse_file(_write(tmp_path / "p.htm", html.encode("cp932")))
    assert parsed.title == "相談支援室"
    assert parsed.text == "# 相談支援室\n本文"


# --- big input -------------------------------------------------------------------------------


def test_five_megabyte_text_parses_and_chunks(tmp_path: Path) -> None:
    sample = SAMPLE.read_bytes()
    path = _write(tmp_path / "big.txt", sample * (5_000_000 // len(sample) + 1))
    assert path.stat().st_size > 5_000_000
    parsed = parse_file(path)
    chunks = chunk_document("big.txt", parsed.text)
    assert len(chunks) > 1000
    assert all(parsed.text[c.start : c.end] == c.text and len(c.text) <= 600 for c in chunks)
