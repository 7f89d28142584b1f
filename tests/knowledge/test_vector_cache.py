"""The cache of line and question embeddings: in memory, and for lines in a SQLite file kept across processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from knowledge.vector_cache import VectorCache, VectorFile


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [[float(len(text)), 1.0, 0.0] for text in texts]


def test_each_text_is_embedded_once_and_rows_are_unit_length() -> None:
    embed = Recorder()
    cache = VectorCache(embed)
    first = cache.vectors(["研修", "研修会", "研修"])
    second = cache.vectors(["研修会"])
    assert embed.calls == [["研修", "研修会"]]
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0)
    assert np.allclose(first[0], first[2]) and np.allclose(first[1], second[0])


def test_the_file_serves_a_new_process_and_keys_on_the_model(tmp_path: Path) -> None:
    embed = Recorder()
    VectorCache(embed, backing=VectorFile(tmp_path / "v.sqlite3", "model-a")).vectors(["会場", "講師"])
    again = Recorder()
    VectorCache(again, backing=VectorFile(tmp_path / "v.sqlite3", "model-a")).vectors(["講師", "日時"])
    assert again.calls == [["日時"]]  # 講師 came from the file
    other = Recorder()
    VectorCache(other, backing=VectorFile(tmp_path / "v.sqlite3", "model-b")).vectors(["講師"])
    assert other.calls == [["講師"]]  # another model's vectors are never reused


def test_the_memory_is_bounded() -> None:
    cache = VectorCache(Recorder(), max_entries=3)
    cache.vectors([f"行{i}" for i in range(10)])
    assert len(cache) == 3
