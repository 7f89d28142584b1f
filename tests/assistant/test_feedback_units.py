"""The content-gap grouping and the CSV cell rule (no I/O), and ratings stored on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from assistant.feedback import CSV_COLUMNS, GapItem, group_similar, question_shingles, write_csv

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def item(question: str, minutes_ago: int = 0, kind: str = "refusal") -> GapItem:
    return GapItem(kind, f"c{minutes_ago}", 1, question, "", "out_of_scope", NOW - timedelta(minutes=minutes_ago))  # type: ignore[arg-type]


def test_shingles_ignore_width_case_spaces_and_punctuation() -> None:
    assert question_shingles("ＡＣＰの取組み？") == question_shingles("acp の取組み")
    assert question_shingles("？") == frozenset({""})


def test_similar_questions_share_a_group_and_groups_come_largest_first() -> None:
    groups = group_similar(
        [
            item("札幌市の介護保険料はいくら？", 1),
            item("東京都の防災計画の予算は？", 2),
            item("札幌市の介護保険料はいくらですか", 3),
            item("札幌市の介護保険料っていくら", 4),
        ]
    )
    assert [[i.question for i in g.items] for g in groups] == [
        ["札幌市の介護保険料はいくら？", "札幌市の介護保険料はいくらですか", "札幌市の介護保険料っていくら"],
        ["東京都の防災計画の予算は？"],
    ]
    summary = groups[0].to_dict()
    assert summary["count"] == 3 and summary["refusals"] == 3 and summary["question"] == "札幌市の介護保険料はいくら？"


def test_the_threshold_decides_what_is_similar() -> None:
    questions = [item("研修会の講師は誰？"), item("研修会の会場はどこ？", 1)]
    assert len(group_similar(questions, threshold=0.2)) == 1
    assert len(group_similar(questions, threshold=0.9)) == 2


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted() -> None:
    out = io.StringIO()
    write_csv([{column: "" for column in CSV_COLUMNS} | {"question": '=HYPERLINK("x")', "comment": "-1"}], out)
    line = out.getvalue().splitlines()[1]
    assert "'=HYPERLINK" in line and ",'-1," in line


def test_ratings_are_stored_replaced_and_grouped_on_each_backend(engine) -> None:
    from assistant.feedback import FeedbackRequest, quality_view, ratings_of, record_feedback
    from assistant.memory import ConversationMemory

    memory = ConversationMemory(engine)
    memory.append(
        "c1", "札幌市の介護保険料は？", "札幌市の介護保険料は？", "out_of_scope", {}, "記載が見つかりません。"
    )
    memory.append("c1", "研修会の講師は？", "研修会の講師は？", "record", {}, "田村 学先生です。 [1]")
    first, second = [turn.turn for turn in memory.turns("c1") or []]
    settings = {"embedding_model": "m", "llm": False, "llm_model": None}
    cited = [{"document_id": "a.txt", "chunk_id": "abc123"}]
    record_feedback(memory, FeedbackRequest(conversation_id="c1", turn=second, rating="up"), settings)
    stored = record_feedback(
        memory,
        FeedbackRequest(conversation_id="c1", turn=second, rating="down", reason="wrong", citations=cited),
        settings,
    )
    assert stored["rating"] == "down" and stored["citations"] == cited and stored["question"] == "研修会の講師は？"
    assert ratings_of(engine, "c1") == {second: "down"}
    view = quality_view(memory)
    assert view["totals"] == {"up": 0, "down": 1, "refused": 1}
    kinds = {item["turn"]: item["kind"] for group in view["groups"] for item in group["items"]}
    assert kinds == {first: "refusal", second: "down"}
