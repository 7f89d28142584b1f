"""The ONNX Runtime backend: same token ids and the same vectors as the torch reference, no torch at run time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from api.bench.paths import DEV_QUESTIONS
from ingest.chunking import chunk_document
from knowledge.config import RetrievalSettings, Settings, StorageSettings
from knowledge.embedding_base import EmbeddingModelError
from knowledge.embeddings import get_embeddings
from knowledge.onnx_embeddings import OnnxEmbeddings
from knowledge.onnx_export import ONNX_FILE, onnx_dir
from tests.support.paths import SAMPLE
from tests.support.texts import EDGE_CASES

ROOT = Path(__file__).resolve().parents[2]
DEV = DEV_QUESTIONS
SAME_VECTOR = 0.999  # the bar for the default backend: min cosine to the torch fp32 vectors


@pytest.fixture(scope="module")
def onnx_embeddings(e5_model_dir) -> OnnxEmbeddings:
    return OnnxEmbeddings(e5_model_dir)


@pytest.fixture(scope="module")
def sample_chunks() -> list[str]:
    return [chunk.text for chunk in chunk_document("sample.txt", SAMPLE.read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def dev_questions() -> list[str]:
    return [item["question"] for item in yaml.safe_load(DEV.read_text(encoding="utf-8"))]


def test_token_ids_identical_to_the_torch_tokenizer(onnx_embeddings, e5_embeddings, sample_chunks, dev_questions):
    texts = sample_chunks + dev_questions + EDGE_CASES + [SAMPLE.read_text(encoding="utf-8")]
    for mode in ("query", "passage"):
        assert onnx_embeddings.token_ids(texts, mode) == e5_embeddings.token_ids(texts, mode), mode
    assert onnx_embeddings.max_tokens == e5_embeddings.max_tokens == 512
    assert onnx_embeddings.prompt("query") == "query: " and onnx_embeddings.prompt("passage") == "passage: "


def test_same_vectors_as_torch_on_sample_chunks_and_dev_questions(
    onnx_embeddings, e5_embeddings, sample_chunks, dev_questions
):
    assert len(sample_chunks) > 15 and len(dev_questions) >= 20
    for texts, mode in ((sample_chunks, "passage"), (dev_questions, "query")):
        cosine = (onnx_embeddings.encode(texts, mode) * e5_embeddings.encode(texts, mode)).sum(axis=1)
        worst = int(cosine.argmin())
        assert cosine.min() >= SAME_VECTOR, (mode, texts[worst][:40], float(cosine.min()))
    # ...and, for a sanity check that cannot pass by accident, different texts do differ
    a, b = onnx_embeddings.encode(dev_questions[:2], "query")
    assert float(a @ b) < 0.99


def test_batching_and_windowing_do_not_change_a_vector(onnx_embeddings, e5_embeddings, sample_paragraphs):
    long_text = SAMPLE.read_text(encoding="utf-8")[:3000]
    mixed = onnx_embeddings.encode(["短い文", long_text, *sample_paragraphs[:40]], "passage")
    alone = np.stack([onnx_embeddings.encode([t], "passage")[0] for t in ["短い文", long_text, sample_paragraphs[0]]])
    np.testing.assert_allclose(mixed[:3], alone, atol=1e-5)
    assert float(mixed[1] @ e5_embeddings.encode([long_text], "passage")[0]) >= SAME_VECTOR
    assert np.allclose(np.linalg.norm(mixed, axis=1), 1.0, atol=1e-5)
    assert onnx_embeddings.encode([], "query").shape == (0, 384)


def test_backend_is_a_setting_and_torch_stays_available(e5_model_dir, tmp_path):
    onnx = get_embeddings(
        Settings(
            storage=StorageSettings(data_dir=tmp_path),
            retrieval=RetrievalSettings(embedding_model=str(e5_model_dir)),
        )
    )
    torch_backend = get_embeddings(
        Settings(
            storage=StorageSettings(data_dir=tmp_path),
            retrieval=RetrievalSettings(embedding_model=str(e5_model_dir), embedding_backend="torch"),
        )
    )
    assert isinstance(onnx, OnnxEmbeddings) and not isinstance(torch_backend, OnnxEmbeddings)
    assert onnx.model_name == torch_backend.model_name  # same vectors: an index built with one serves the other
    assert float(np.dot(onnx.embed_query("訪問診療"), torch_backend.embed_query("訪問診療"))) >= SAME_VECTOR


def test_a_model_without_export_or_with_a_broken_one_is_a_clear_error(e5_model_dir, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(e5_model_dir, bare, ignore=shutil.ignore_patterns("model.safetensors", "onnx"))
    with pytest.raises(EmbeddingModelError, match="renkei model export"):
        OnnxEmbeddings(bare)
    onnx_dir(bare).mkdir()
    (onnx_dir(bare) / ONNX_FILE).write_bytes(b"not an onnx graph")
    with pytest.raises(EmbeddingModelError, match="cannot load the ONNX model"):
        OnnxEmbeddings(bare)


PASSAGE_ANSWER_WITHOUT_TORCH = """
import sys
from assistant.service import Assistant
from assistant.schemas import ChatRequest
from ingest.pipeline import IngestRun
from knowledge.base import KnowledgeBase
from knowledge.config import Settings
from knowledge.database import open_database

settings = Settings()
assert settings.retrieval.embedding_model is None and settings.retrieval.embedding_backend == "onnx", settings
IngestRun(KnowledgeBase(settings)).run()
kb = KnowledgeBase(settings)  # a fresh one, as in a new process: nothing loaded yet
assistant = Assistant(kb, open_database(settings.storage.resolved_database_url), settings)
record = assistant.answer(ChatRequest(message="新任コーディネーター向けの説明は何月何日にありましたか"))
assert "4月24日" in record.answer, record
assert not kb.embeddings_loaded, "a record question loaded the embedding model"
answer = assistant.answer(ChatRequest(message="新任のコーディネーターは採用されたらまず何をしてもらえますか"))
assert answer.citations, answer
print("torch" in sys.modules, "sentence_transformers" in sys.modules, type(kb.embeddings).__name__)
"""


def test_records_load_no_model_and_passages_load_no_torch_in_the_default_configuration(e5_model_dir, tmp_path):
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    (data / "models" / "multilingual-e5-small").symlink_to(e5_model_dir)  # the default model, already built
    env = {
        **os.environ,
        "RENKEI_DATA_DIR": str(data),
        "RENKEI_CORPUS_DIRS": f'["{ROOT / "corpus" / "sample"}"]',
        "HF_HUB_OFFLINE": "1",
    }
    env = {k: v for k, v in env.items() if k not in ("RENKEI_EMBEDDING_MODEL", "RENKEI_EMBEDDING_BACKEND")}
    done = subprocess.run(
        [sys.executable, "-c", PASSAGE_ANSWER_WITHOUT_TORCH],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["False", "False", "OnnxEmbeddings"]
