"""The BM25 lexical index: real Sudachi, real bm25s, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import bm25s
import numpy as np
import pytest

from knowledge.base import ward_flags
from knowledge.lexical import POINTER, LexicalIndex, LexicalIndexError, _build_bm25
from knowledge.tokenizer import JapaneseTokenizer

ROOT = Path(__file__).resolve().parents[2]

REPORT_2023 = {"document_id": "report", "doc_type": "report", "fiscal_year": 2023}
MINUTES_2022 = {"document_id": "minutes", "doc_type": "minutes", "fiscal_year": 2022}
# Wards as the ingest stores them: comma-joined for reading, one flag each for the ward filter.
PASSAGES = {
    "r1": ("大阪市在宅医療・介護連携推進事業の進捗管理について報告する。", {**REPORT_2023, "wards": ""}),
    "r2": (
        "説明会では淀川区・港区のACPの取組みを報告した。",
        {**REPORT_2023, "wards": "淀川区,港区", **ward_flags(["淀川区", "港区"])},
    ),
    "r3": ("合同研修会のアンケート回収率は91.5%で、回収数は62件であった。", {**REPORT_2023, "wards": ""}),
    "m1": (
        "北ブロックの多職種研修会は9月19日に中央区民センターで開催する。",
        {**MINUTES_2022, "wards": "北区,都島区,淀川区", **ward_flags(["北区", "都島区", "淀川区"])},
    ),
    "m2": (
        "区役所への個別支援では困りごとを聞き取り、コーディネーターとの連携を促す。",
        {**MINUTES_2022, "wards": "北区", **ward_flags(["北区"])},
    ),
}


@pytest.fixture(scope="module")
def tokenizer() -> JapaneseTokenizer:
    return JapaneseTokenizer()


@pytest.fixture
def index(tokenizer: JapaneseTokenizer) -> LexicalIndex:
    index = LexicalIndex(tokenizer=tokenizer)
    index.upsert((chunk_id, text, metadata) for chunk_id, (text, metadata) in PASSAGES.items())
    return index


def ids(hits: list[tuple[str, float]]) -> list[str]:
    return [chunk_id for chunk_id, _ in hits]


def assert_same_hits(got: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    assert ids(got) == ids(expected)
    assert [score for _, score in got] == pytest.approx([score for _, score in expected], rel=1e-5)


# --- search ---------------------------------------------------------------------------------------
def test_finds_passages_by_terms_numbers_and_acronyms(index: LexicalIndex) -> None:
    assert ids(index.search("ACPの取組みを報告した区は？"))[0] == "r2"
    assert ids(index.search("回収率 91.5"))[0] == "r3"
    assert ids(index.search("9月19日の研修会"))[0] == "m1"
    assert ids(index.search("聞き取り"))[0] == "m2"


def test_compound_found_by_its_parts(index: LexicalIndex) -> None:
    assert ids(index.search("在宅医療")) == ["r1"]
    assert ids(index.search("介護連携"))[0] == "r1"  # m2 has 連携 alone
    assert set(ids(index.search("研修"))) == {"r3", "m1"}  # 研修会 holds 研修


def test_query_compound_matches_whole_when_the_corpus_has_it_else_its_parts(tokenizer: JapaneseTokenizer) -> None:
    index = LexicalIndex(tokenizer=tokenizer)
    index.upsert([("parts", "研修の記録", {})])
    assert ids(index.search("研修会")) == ["parts"]  # 研修会 unknown: its parts 研修 + 会 are searched
    index.upsert([("whole", "研修会の記録", {})])
    assert ids(index.search("研修会")) == ["whole"]  # known: the whole word alone, not counted thrice


def test_has_term_is_whole_terms_of_live_chunks(index: LexicalIndex) -> None:
    assert index.has_term("研修会") and index.has_term("研修") and index.has_term("acp")
    assert not index.has_term("札幌")
    index.delete(["r2"])
    assert not index.has_term("acp")


def test_zero_score_hits_are_dropped(index: LexicalIndex) -> None:
    assert index.search("札幌") == []
    assert index.search("の は が を") == []
    assert index.search("") == []
    assert index.search("？！") == []
    assert ids(index.search("コーディネーター")) == ["m2"]


def test_scores_are_positive_and_descending_and_k_limits(index: LexicalIndex) -> None:
    hits = index.search("研修会 報告 区", k=10)
    scores = [score for _, score in hits]
    assert len(hits) >= 3 and all(score > 0 for score in scores)
    assert scores == sorted(scores, reverse=True)
    assert index.search("研修会 報告 区", k=2) == hits[:2]
    assert index.search("研修会", k=0) == []


def test_empty_index_searches_to_nothing(tokenizer: JapaneseTokenizer) -> None:
    index = LexicalIndex(tokenizer=tokenizer)
    assert index.search("在宅医療") == [] and len(index) == 0


# --- filters --------------------------------------------------------------------------------------
def test_where_filters_on_metadata_equality(index: LexicalIndex) -> None:
    assert set(ids(index.search("研修会", where={"doc_type": "minutes"}))) == {"m1"}
    assert set(ids(index.search("報告", where={"document_id": "report"}))) == {"r1", "r2"}
    assert set(ids(index.search("報告", where={"fiscal_year": 2022}))) == set()
    assert set(ids(index.search("研修会", where={"fiscal_year": "2023"}))) == {"r3"}  # 2023 == "2023"
    assert index.search("研修会", where={"doc_type": "nothing-like-this"}) == []


def test_ward_filter_is_membership_in_wards(index: LexicalIndex) -> None:
    """A ward filter is a generic one on the ward's flag (``KnowledgeBase.index_filters`` makes it)."""
    assert set(ids(index.search("報告 研修会", where=ward_flags(["淀川区"])))) == {"r2", "m1"}
    assert set(ids(index.search("支援 研修会", where={**ward_flags(["北区"]), "doc_type": "minutes"}))) == {"m1", "m2"}
    assert index.search("報告", where={**ward_flags(["港区"]), "doc_type": "minutes"}) == []


def test_where_list_value_means_any_of(index: LexicalIndex) -> None:
    assert set(ids(index.search("研修会", where={"doc_type": ["minutes", "report"]}))) == {"r3", "m1"}


def test_filter_keeps_the_best_matches_not_just_the_first_k_of_all(tokenizer: JapaneseTokenizer) -> None:
    index = LexicalIndex(tokenizer=tokenizer)
    index.upsert((f"a{i}", "研修会 研修会 研修会", {"doc_type": "a"}) for i in range(30))
    index.upsert([("b0", "研修会の報告", {"doc_type": "b"})])
    assert ids(index.search("研修会", k=3, where={"doc_type": "b"})) == ["b0"]


# --- writes ---------------------------------------------------------------------------------------
def test_upsert_replaces_text_and_metadata(index: LexicalIndex) -> None:
    index.upsert([("r3", "新任コーディネーターへの支援", {"document_id": "report", "doc_type": "memo"})])
    assert "r3" not in ids(index.search("回収率"))
    assert ids(index.search("新任")) == ["r3"]
    assert index.metadata("r3") == {"document_id": "report", "doc_type": "memo"}
    assert len(index) == len(PASSAGES)


def test_delete_and_delete_document(index: LexicalIndex) -> None:
    assert index.delete(["r2", "no-such-chunk"]) == 1
    assert index.search("ACP") == []
    assert index.delete_document("minutes") == 2
    assert index.chunk_ids() == {"r1", "r3"}
    assert len(index) == 2 and "m1" not in index
    assert index.delete_document("minutes") == 0
    index.upsert([("m1", "北ブロックの研修会", {"document_id": "minutes"})])
    assert index.delete_document("minutes") == 1


def test_metadata_values_must_be_scalars(index: LexicalIndex) -> None:
    with pytest.raises(TypeError):
        index.upsert([("bad", "本文", {"wards": ["北区"]})])  # type: ignore[dict-item]


def test_vectorised_build_scores_like_stock_bm25s() -> None:
    rng = np.random.default_rng(7)
    docs = [rng.integers(0, 60, size=int(rng.integers(1, 40))).astype(np.int32) for _ in range(300)]
    ours = _build_bm25(docs, 60)
    stock = bm25s.BM25(method="lucene")
    stock.index(([d.tolist() for d in docs], {i: i for i in range(60)}), create_empty_token=False, show_progress=False)
    for query in ([0], [1, 2, 3], [59, 7, 7 + 1]):
        q = np.asarray(query, dtype=np.int32)
        np.testing.assert_allclose(ours.get_scores_from_ids(q), stock.get_scores_from_ids(q), rtol=1e-5, atol=1e-6)


# --- persistence ----------------------------------------------------------------------------------
def test_save_and_load_round_trip(index: LexicalIndex, tokenizer: JapaneseTokenizer, tmp_path: Path) -> None:
    index.delete(["r1"])  # its terms are compacted away on save
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path, tokenizer=tokenizer)
    assert loaded.chunk_ids() == index.chunk_ids()
    for query in ["ACP", "研修会", "回収率 91.5", "聞き取り", "在宅医療"]:
        assert_same_hits(loaded.search(query), index.search(query))
    assert loaded.search("研修会", where=ward_flags(["北区"])) == index.search("研修会", where=ward_flags(["北区"]))
    assert loaded.metadata("m1") == PASSAGES["m1"][1]
    loaded.upsert([("n1", "看取りの研修", {"document_id": "new"})])
    assert ids(loaded.search("看取り")) == ["n1"]


def test_load_of_a_missing_directory_is_empty(tmp_path: Path) -> None:
    assert len(LexicalIndex.load(tmp_path / "nothing-here")) == 0


def test_saves_keep_only_recent_versions(index: LexicalIndex, tmp_path: Path) -> None:
    for _ in range(4):
        index.save(tmp_path)
    versions = [p for p in tmp_path.iterdir() if p.name.startswith("v-")]
    assert len(versions) == 2
    assert (tmp_path / POINTER).read_text().strip() in {p.name for p in versions}


def test_a_crashed_save_leaves_the_previous_index(
    index: LexicalIndex, tokenizer: JapaneseTokenizer, tmp_path: Path
) -> None:
    index.save(tmp_path)
    before = index.search("研修会")
    # a save that died half-way: staging dir with some files, and a renamed version without its pointer
    staging = tmp_path / ".tmp-deadbeef"
    staging.mkdir()
    (staging / "vocab.json").write_text('["研修会"', encoding="utf-8")
    orphan = tmp_path / "v-99999999999999999999-deadbeef"
    orphan.mkdir()
    (orphan / "chunks.json").write_text('{"ids": ["x"', encoding="utf-8")
    loaded = LexicalIndex.load(tmp_path, tokenizer=tokenizer)
    assert loaded.chunk_ids() == index.chunk_ids()
    assert_same_hits(loaded.search("研修会"), before)


def test_corrupt_pointer_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / POINTER).write_text("../../etc", encoding="utf-8")
    with pytest.raises(LexicalIndexError):
        LexicalIndex.load(tmp_path)


@pytest.mark.parametrize("field, value", [("tokenizer", "some-older-tokenizer"), ("format", 1)])
def test_index_from_another_tokenizer_or_format_loads_empty(
    index: LexicalIndex, tmp_path: Path, field: str, value: object
) -> None:
    version_dir = index.save(tmp_path)
    manifest = json.loads((version_dir / "manifest.json").read_text())
    manifest[field] = value
    (version_dir / "manifest.json").write_text(json.dumps(manifest))
    assert len(LexicalIndex.load(tmp_path)) == 0


_SAVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from knowledge.lexical import LexicalIndex
    directory = Path(sys.argv[1])
    index = LexicalIndex.load(directory)
    n = len(index)
    while True:  # grow by 200 chunks per save, forever, until killed
        index.upsert_tokenized((f"c{n + i}", ["語", f"t{n + i}"], {"batch": n}) for i in range(200))
        n += 200
        index.save(directory)
        print(n, flush=True)
    """
)


def test_kill_9_during_saves_leaves_a_loadable_index(tmp_path: Path) -> None:
    seen = 0
    for delay in (0.05, 0.2, 0.45):
        process = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(tmp_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert process.stdout is not None
        process.stdout.readline()  # at least one save finished in this round
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        loaded = LexicalIndex.load(tmp_path)
        assert len(loaded) % 200 == 0 and len(loaded) > seen
        assert loaded.chunk_ids() == {f"c{i}" for i in range(len(loaded))}
        seen = len(loaded)


# --- concurrency ----------------------------------------------------------------------------------
def test_searches_during_writes_stay_consistent(tokenizer: JapaneseTokenizer) -> None:
    index = LexicalIndex(tokenizer=tokenizer)
    stable = {f"s{i}" for i in range(20)}
    index.upsert((chunk_id, "在宅医療と介護の連携", {"kind": "stable"}) for chunk_id in stable)
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer() -> None:
        try:
            for round_ in range(40):
                batch = [(f"w{round_}-{i}", "介護の研修会と在宅医療", {"kind": "churn"}) for i in range(25)]
                index.upsert(batch)
                index.delete(chunk_id for chunk_id, _, _ in batch[::2])
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            stop.set()

    def reader() -> None:
        try:
            while not stop.is_set():
                hits = index.search("在宅医療", k=1000)
                found = set(ids(hits))
                assert stable <= found, "a stable chunk went missing"
                assert all(score > 0 for _, score in hits)
                assert len(found) == len(hits)
                churn = ids(index.search("在宅医療", k=1000, where={"kind": "churn"}))
                assert not stable & set(churn)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(index) == 20 + 40 * 12
    assert len(index.search("研修会", k=10_000)) == 40 * 12  # read-your-writes after the last upsert/delete
