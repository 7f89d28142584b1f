"""The shared harness of the benchmarks and the evaluation, and the suite file's paths (no models, no timing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.bench import harness
from api.bench.harness import percentile, set_assistants, summarise_ms
from api.bench.paths import REPO_ROOT, SUITE_FILE
from api.bench.question_sets import EvalSet, load_questions, load_suite
from knowledge.config import Settings


def test_the_shipped_suite_names_question_files_that_load_and_corpora_that_exist() -> None:
    sets = load_suite(SUITE_FILE)
    assert [item.name for item in sets][:2] == ["dev", "blind1"]
    for item in sets:
        assert item.questions.parent.is_relative_to(SUITE_FILE.parent), item.questions
        assert load_questions(item.questions), item.name
        assert all(corpus.is_dir() and corpus.is_relative_to(REPO_ROOT / "corpus") for corpus in item.corpus)


def test_a_suite_reads_its_questions_beside_it_and_its_corpora_from_the_repository(tmp_path: Path) -> None:
    suite = tmp_path / "sets" / "suite.yaml"
    suite.parent.mkdir()
    suite.write_text("- {name: mine, questions: sub/q.yaml, corpus: [corpus/sample, /elsewhere/docs]}\n", "utf-8")
    (item,) = load_suite(suite, repo_root=tmp_path / "repo")
    assert item.questions == suite.parent / "sub" / "q.yaml"
    assert item.corpus == [tmp_path / "repo" / "corpus" / "sample", Path("/elsewhere/docs")]


@pytest.mark.parametrize(("fraction", "expected"), [(0.0, 1.0), (0.5, 5.0), (0.51, 6.0), (0.95, 10.0), (1.0, 10.0)])
def test_percentiles_are_nearest_rank(fraction: float, expected: float) -> None:
    assert percentile([float(n) for n in range(1, 11)], fraction) == expected


def test_a_latency_summary_of_nothing_is_zeros() -> None:
    assert percentile([], 0.5) == 0.0
    assert summarise_ms([]) == {"n": 0, "p50_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0}
    assert summarise_ms([3.0, 1.0, 2.0]) == {"n": 3, "p50_ms": 2.0, "p95_ms": 3.0, "max_ms": 3.0}


def test_sets_over_the_same_corpora_share_one_assistant_and_only_filters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[tuple[Path, ...]] = []

    def fake_assistant(corpus: list[Path], work_dir: Path, settings: Settings) -> object:
        made.append(tuple(corpus))
        return object()

    monkeypatch.setattr(harness, "suite_assistant", fake_assistant)
    sample, field = [tmp_path / "sample"], [tmp_path / "sample", tmp_path / "field"]
    sets = [
        EvalSet(name="a", questions=tmp_path / "a.yaml", corpus=sample),
        EvalSet(name="b", questions=tmp_path / "b.yaml", corpus=field),
        EvalSet(name="c", questions=tmp_path / "c.yaml", corpus=sample),
    ]
    every = list(set_assistants(sets, tmp_path, Settings()))
    assert [item.name for item, _ in every] == ["a", "b", "c"]
    assert every[0][1] is every[2][1] and every[0][1] is not every[1][1]
    assert made == [tuple(sample), tuple(field)]
    assert [item.name for item, _ in set_assistants(sets, tmp_path, Settings(), only=["c"])] == ["c"]
    assert list(set_assistants(sets, tmp_path, Settings(), only=())) == []  # no names: no set (never all of them)


def test_the_cold_bench_starts_the_server_of_either_layout(tmp_path: Path) -> None:
    """``renkei bench cold --before`` may point at a checkout from before the command line became a package."""
    from api.bench.backends import _serve_module

    assert _serve_module(REPO_ROOT) == "api.cli.serve"
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "cli_serve.py").write_text("", encoding="utf-8")
    assert _serve_module(tmp_path) == "api.cli_serve"
