"""SentencePiece and the piece table in place of ``tokenizers``' Unigram model: identical ids, offsets and
special-token masks.

The comparison runs over everything the assistant embeds or is asked in this repository: every chunk and every
line of the sample and field corpora and of the extraction documents, and every question of every eval set, each
with the query and the passage prompt, plus edge cases (specials written in the text, unknown characters, widths,
control and zero-width characters).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from api.bench.paths import EXTRACTION_SET, SUITE_FILE
from api.bench.question_sets import load_questions, load_suite
from ingest.chunking import chunk_document
from ingest.parsers import SUPPORTED_EXTENSIONS, parse_file
from knowledge.onnx_embeddings import OnnxEmbeddings
from knowledge.onnx_export import export_onnx, has_spm_files, onnx_dir
from knowledge.spm_tokenizer import (
    PIECES_FILE,
    PIPELINE_FILE,
    PROBE_TEXTS,
    QUICK_CHARS,
    SPM_FILE,
    TOKENIZER_FILES,
    SpmTokenizer,
    export_spm_tokenizer,
    mismatches,
    write_spm_files,
)
from tests.support.texts import EDGE_CASES

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT_DIRS = (ROOT / "corpus", ROOT / "tests" / "field" / "sources", EXTRACTION_SET / "documents")


def _document_texts() -> list[str]:
    texts = []
    for folder in DOCUMENT_DIRS:
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUPPORTED_EXTENSIONS):
            text = parse_file(path).text
            texts += [chunk.text for chunk in chunk_document(path.name, text)] + text.splitlines() + [text]
    return texts


def _questions() -> list[str]:
    files = {item.questions for item in load_suite(SUITE_FILE)}
    return [question.question for path in sorted(files) for question in load_questions(path)]


@pytest.fixture(scope="module")
def reference(e5_model_dir: Path) -> Tokenizer:
    """``tokenizers`` as the ONNX backend loaded it before SentencePiece (and still does without its files)."""
    tokenizer = Tokenizer.from_file(str(e5_model_dir / "tokenizer.json"))
    tokenizer.encode_special_tokens = True
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _tokenizer(files: Path, *, table: bool = True, quick_chars: int = QUICK_CHARS) -> SpmTokenizer:
    return SpmTokenizer(files / SPM_FILE, files / PIPELINE_FILE, files / PIECES_FILE if table else None, quick_chars)


def test_the_export_writes_the_sentencepiece_files_and_the_backend_uses_them(e5_model_dir: Path) -> None:
    assert has_spm_files(onnx_dir(e5_model_dir))
    assert all((onnx_dir(e5_model_dir) / name).is_file() for name in TOKENIZER_FILES)
    assert isinstance(OnnxEmbeddings(e5_model_dir)._tokenizer, SpmTokenizer)


def test_a_question_is_segmented_over_the_piece_table_and_bulk_work_loads_sentencepiece(
    e5_model_dir: Path,
) -> None:
    """SentencePiece takes ~0.4 s to load (it sorts the pieces and builds its trie each time): a question or a
    few answer lines never wait for it; the first batch of more than QUICK_CHARS characters loads it, and the
    vectors are the same either way."""
    model = OnnxEmbeddings(e5_model_dir)
    tokenizer = model._tokenizer
    question = "新任のコーディネーターは採用されたらまず何をしてもらえますか"
    lines = ["・３か月まで・・・先輩コーディネーターより事業の実際について説明", "講師：東成区医師会 黒田和子氏"]
    quick = (model.encode([question], "query"), model.encode(lines, "passage"))
    assert not tokenizer.spm_loaded
    model.encode(["長い文。" * (QUICK_CHARS // 4 + 1)], "passage")
    assert tokenizer.spm_loaded
    np.testing.assert_array_equal(quick[0], model.encode([question], "query"))
    np.testing.assert_array_equal(quick[1], model.encode(lines, "passage"))


def test_identical_on_every_corpus_question_set_and_edge_case(
    e5_model_dir: Path,
    reference: Tokenizer,
) -> None:
    documents, questions = _document_texts(), _questions()
    assert len(documents) > 3000 and len(questions) > 300  # the corpora and sets were found
    texts = [
        prompt + text
        for prompt in ("query: ", "passage: ")
        for text in documents + questions + EDGE_CASES + list(PROBE_TEXTS)
    ]
    files = onnx_dir(e5_model_dir)
    table_only = _tokenizer(files, quick_chars=10**9)  # every batch over the piece table
    assert mismatches(reference, table_only, texts) == []
    assert not table_only.spm_loaded
    assert mismatches(reference, _tokenizer(files, table=False), texts) == []  # SentencePiece


@pytest.mark.parametrize("quick_chars", [10**9, 0], ids=["piece table", "sentencepiece"])
def test_the_comparison_detects_a_different_segmentation(
    e5_model_dir: Path,
    reference: Tokenizer,
    tmp_path: Path,
    quick_chars: int,
) -> None:
    """Files written with one score changed segment differently, and the comparison says so."""
    data = json.loads((e5_model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = data["model"]["vocab"]
    index = next(i for i, (piece, _) in enumerate(vocab) if piece == "コー")
    vocab[index][1] = -40.0  # "コー" now costs more than "コ" + "ー"
    write_spm_files(data, tmp_path)
    assert mismatches(
        reference, _tokenizer(tmp_path, quick_chars=quick_chars), ["passage: コーディネーター", "query: 今日は"]
    ) == ["passage: コーディネーター"]


def test_same_vectors_with_and_without_the_sentencepiece_files(
    e5_model_dir: Path,
    tmp_path: Path,
) -> None:
    plain = tmp_path / "model"
    shutil.copytree(e5_model_dir, plain, ignore=shutil.ignore_patterns(*TOKENIZER_FILES))
    with_spm, without = OnnxEmbeddings(e5_model_dir), OnnxEmbeddings(plain)
    assert isinstance(with_spm._tokenizer, SpmTokenizer) and not isinstance(without._tokenizer, SpmTokenizer)
    texts = [*EDGE_CASES, "新任のコーディネーターは採用されたらまず何をしてもらえますか", "長い文。" * 400]  # windowed
    for mode in ("query", "passage"):
        assert with_spm.token_ids(texts, mode) == without.token_ids(texts, mode)
        np.testing.assert_array_equal(with_spm.encode(texts, mode), without.encode(texts, mode))
    assert with_spm._pad_id == without._pad_id == 1


def test_export_adds_the_files_to_an_older_export_and_skips_tokenizers_it_cannot_match(
    e5_model_dir: Path,
    tmp_path: Path,
) -> None:
    older = tmp_path / "older"  # exported before the SentencePiece files existed
    shutil.copytree(e5_model_dir, older, ignore=shutil.ignore_patterns(*TOKENIZER_FILES, "model.safetensors"))
    export_onnx(older)
    assert has_spm_files(onnx_dir(older))
    (onnx_dir(older) / PIECES_FILE).unlink()  # exported with the SentencePiece files, before the piece table
    assert OnnxEmbeddings(older)._tokenizer.spm_loaded  # read as before: SentencePiece does everything
    export_onnx(older)
    assert (onnx_dir(older) / PIECES_FILE).is_file()
    assert not OnnxEmbeddings(older)._tokenizer.spm_loaded

    config = json.loads((older / "tokenizer_config.json").read_text(encoding="utf-8"))
    (older / "tokenizer_config.json").write_text(json.dumps(config | {"split_special_tokens": False}), "utf-8")
    elsewhere = tmp_path / "out"
    elsewhere.mkdir()
    # "<s>" in the text would be a special token, which the SentencePiece pipeline never splits out: no files
    assert export_spm_tokenizer(older, elsewhere) is False
    assert list(elsewhere.iterdir()) == []
