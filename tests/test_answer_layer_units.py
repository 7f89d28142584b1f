"""Units of the learned answer layer: answer types from data, places taken out of the question, the fitted
model's file format, and how the lines of an answer are composed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.answer_model import AnswerModel, Composition, LinearModel, load_answer_model
from assistant.extractive import LINE_FEATURES, Candidate, select, without_places
from assistant.evidence import units_of
from assistant.fitting import fit_logistic
from assistant.vocabulary import vocabulary
from knowledge.types import Chunk


@pytest.mark.parametrize(
    ("question", "kind", "line"),
    [
        ("研修会には何人来ましたか", "count", "当日は63名の参加があった。"),
        ("参加費はいくらですか", "amount", "参加費：無料"),
        ("満足と答えた人は何パーセント？", "percentage", "満足 38名（44.2％）"),
        ("返事はどのくらいでもらえますか", "duration", "3業務日以内に電話でお知らせします。"),
        ("受付は何時までですか", "time", "受付は午前8時45分から午後5時15分まで"),
        ("個人情報は第何条に書いてありますか", "article", "第８条 個人情報の取扱い"),
    ],
)
def test_answer_types_come_from_the_vocabulary_file(question: str, kind: str, line: str) -> None:
    answer_type = vocabulary().answer_type(question)
    assert answer_type is not None and answer_type.name == kind
    assert answer_type.found_in(line)
    assert not answer_type.found_in("医療と介護の連携を進める。")


def test_only_the_place_every_document_is_about_leaves_the_question() -> None:
    titles = ["令和5年度 吹田市 多職種研修会 開催報告", "吹田市在宅医療・介護連携支援センター設置要綱"]
    assert "吹田市" not in without_places("吹田市の研修会には何人来ましたか", titles)
    # a ward that is one of many inside the city's report tells its lines apart: it stays
    assert "鶴見区" in without_places("鶴見区は何ブロックですか", ["大阪市 在宅医療・介護連携推進事業 進捗報告"])
    # a question that is nothing but the place keeps it
    assert without_places("吹田市は？", titles) == "吹田市は？"


def test_the_model_file_round_trips(tmp_path) -> None:
    line = LinearModel(("a", "b"), np.array([0.0, 1.0]), np.array([1.0, 2.0]), np.array([2.0, -1.0]), 0.5)
    model = AnswerModel(line, line, 0.3, Composition(1, 0.8, 2, 300), Composition(0, 0.9, 3, 420, 2), frozenset({"amount"}))
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model.to_json({"fitted": "test"})), encoding="utf-8")
    again = load_answer_model(path)
    rows = np.array([[1.0, 3.0], [0.0, 0.0]])
    assert np.allclose(again.line.probabilities(rows), line.probabilities(rows))
    assert again.composition_for("参加費はいくら") == Composition(1, 0.8, 2, 300)
    assert again.composition_for("どんな取組みをしていますか") == Composition(0, 0.9, 3, 420, 2)
    assert again.strict_answer_types == frozenset({"amount"})


def test_logistic_fit_learns_which_feature_answers() -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(400, 2))
    labels = rows[:, 0] > 0.5
    model = fit_logistic(rows, labels, ("useful", "noise"))
    assert abs(model.coef[0]) > 5 * abs(model.coef[1])
    assert model.probabilities(np.array([[2.0, 0.0]]))[0] > 0.9 > 0.1 > model.probabilities(np.array([[-2.0, 0.0]]))[0]


TEXT = "【参加者】\n医師 12名\n看護師 20名\n介護支援専門員 27名\n【感想】\n・よかった"


def _candidates(probabilities: list[float]) -> list[Candidate]:
    chunk = Chunk("c1", "doc.txt", TEXT, 0, len(TEXT))
    units = units_of(chunk, 0)
    return [
        Candidate(unit, np.zeros(len(LINE_FEATURES)), frozenset(), probability)
        for unit, probability in zip(units, probabilities, strict=True)
    ]


def test_a_heading_brings_the_lines_under_it_and_no_further() -> None:
    ranked = sorted(_candidates([0.9, 0.2, 0.2, 0.2, 0.1, 0.1]), key=lambda c: -c.probability)
    selection = select(ranked, Composition(0, 1.01, 0, 300))
    assert selection is not None
    assert [unit.text for unit in selection.units] == ["【参加者】", "医師 12名", "看護師 20名", "介護支援専門員 27名"]


def test_close_runners_up_join_within_the_budget() -> None:
    ranked = sorted(_candidates([0.1, 0.9, 0.2, 0.85, 0.1, 0.1]), key=lambda c: -c.probability)
    joined = select(ranked, Composition(0, 0.9, 2, 300))
    alone = select(ranked, Composition(0, 0.99, 2, 300))
    assert joined is not None and alone is not None
    assert [unit.text for unit in joined.units] == ["医師 12名", "介護支援専門員 27名"]  # in document order
    assert [unit.text for unit in alone.units] == ["医師 12名"]
