"""Fitting the answer layer's weights on the tune question sets (``renkei fit``), reproducibly.

Only the sets named as tune sets are read (never ``field-check``). For each question the assistant's own
passage path runs up to the candidate lines; a line is labelled as answering when it holds one of the
question's ``must`` alternatives. Then, in order:

1. the line model: a logistic regression (scikit-learn, standardised features, balanced classes) on every
   candidate line of the answerable questions;
2. the composition: a grid search over how many lines an answer takes, scored by how many answerable
   questions' composed answers hold every ``must`` group;
3. the support model: a logistic regression over selection features, fitted on answers that hold their
   answer against unanswerable questions; its threshold and the answer types checked strictly are chosen to
   make the most tune questions pass (unanswerable ones refused, answerable ones answered with their answer)
   while at most ``MAX_ANSWERABLE_REFUSED`` of the answerable ones are refused.
"""

from __future__ import annotations

import itertools
import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from api.bench.evaluation import matches_group
from api.bench.harness import set_assistants
from api.bench.question_sets import EvalSet, Question, load_questions
from assistant.answer_model import MODEL_FILE, AnswerModel, Composition, LinearModel
from assistant.extractive import LINE_FEATURES, Candidate, Evidence, Selection, rank_candidates, select
from assistant.grounding import SUPPORT_FEATURES, support_features, unknown_proper_nouns
from assistant.service import Assistant
from assistant.vocabulary import AnswerType, vocabulary
from knowledge.config import Settings

# The sets the weights are fitted on. The held-out sets (field-check, field-check2, field-check3) are never read here.
TUNE_SETS: tuple[str, ...] = (
    "dev",
    "blind1",
    "blind2",
    "blind3",
    "blind4",
    "blind5",
    "field-tune",
    "field-tune2",
    "field-tune3",
)
# The bound on answerable questions refused, applied on the tune sets: the issue asks ≤ 5 % on every set, and the
# gate checks each small set (11 answerable questions in blind5) on its own, so the fit keeps a margin.
MAX_ANSWERABLE_REFUSED = 0.03
# Regularisation strength of both regressions (scikit-learn's default).
REGULARISATION_C = 1.0
GRID_CONTINUATION = (0, 1, 2, 3)
GRID_RATIO = (0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
GRID_EXTRA = (1, 2, 3, 4, 5, 6, 8)
GRID_MAX_CHARS = (300, 420, 520)
GRID_SIBLINGS = (0, 2, 4)


@dataclass
class Case:
    """One tune question, run up to its candidate lines."""

    set_name: str
    question: Question
    intent: str
    unknown_name: bool  # refused before any passage is read
    evidence: Evidence
    labels: np.ndarray  # per candidate: holds a must alternative
    answer_type: AnswerType | None

    @property
    def candidates(self) -> list[Candidate]:
        return self.evidence.candidates

    @property
    def answerable(self) -> bool:
        return self.question.kind != "none"


def _holds_answer(text: str, question: Question) -> bool:
    return any(matches_group(text, [alternative]) for group in question.must for alternative in group)


def collect_cases(assistant: Assistant, set_name: str, questions: Sequence[Question]) -> list[Case]:
    cases: list[Case] = []
    for q in questions:
        u = assistant.understand(q.question, ward=q.ward, as_of=q.as_of)
        if u.intent == "greeting":
            continue
        unknown = bool(unknown_proper_nouns(assistant.kb, u.names))
        evidence = Evidence([], [], 0.0) if unknown else assistant.passage_evidence(q.question, u)
        labels = np.asarray([q.kind != "none" and _holds_answer(c.unit.text, q) for c in evidence.candidates], bool)
        cases.append(Case(set_name, q, u.intent, unknown, evidence, labels, vocabulary().answer_type(q.question)))
    return cases


def fit_logistic(rows: np.ndarray, labels: np.ndarray, features: tuple[str, ...]) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale == 0] = 1.0
    regression = LogisticRegression(C=REGULARISATION_C, class_weight="balanced", max_iter=5000)
    regression.fit((rows - mean) / scale, labels)
    return LinearModel(features, mean, scale, regression.coef_[0].copy(), float(regression.intercept_[0]))


def _composed_text(selection: Selection | None) -> str:
    return "\n".join(unit.text for unit in selection.units) if selection else ""


def _passes(case: Case, selection: Selection | None) -> bool:
    text = _composed_text(selection)
    return all(matches_group(text, group) for group in case.question.must)


def fit_composition(cases: list[Case], line: LinearModel) -> tuple[Composition, dict[str, Any]]:
    """The composition under which most answerable passage questions' answers hold every must group
    (ties: the shorter answers)."""
    scored = [c for c in cases if c.answerable and c.candidates and c.intent != "record"]
    if not scored:
        return Composition(0, 1.01, 0, 300), {"passage_questions": 0}
    ranked = [rank_candidates(list(c.candidates), _line_only(line)) for c in scored]
    best: tuple[int, float, Composition] | None = None
    grid = itertools.product(GRID_CONTINUATION, GRID_RATIO, GRID_EXTRA, GRID_MAX_CHARS, GRID_SIBLINGS)
    for continuation, ratio, extra, max_chars, siblings in grid:
        composition = Composition(continuation, ratio, extra, max_chars, siblings)
        passed, chars = 0, 0
        for case, order in zip(scored, ranked, strict=True):
            selection = select(order, composition)
            passed += _passes(case, selection)
            chars += len(_composed_text(selection))
        key = (passed, -chars / max(1, len(scored)), composition)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    return best[2], {"passage_questions": len(scored), "composed_answers_holding_must": best[0]}


def _line_only(line: LinearModel) -> AnswerModel:
    """A model with just the line weights (ranking needs nothing else)."""
    n = len(SUPPORT_FEATURES)
    placeholder = LinearModel(SUPPORT_FEATURES, np.zeros(n), np.zeros(n), np.zeros(n), 0.0)
    return AnswerModel(line, placeholder, 0.0, Composition(0, 1.01, 0, 0), Composition(0, 1.01, 0, 0), frozenset())


def middle_of_best_run(cuts: Sequence[float], scores: Sequence[int | None]) -> tuple[int, float] | None:
    """The first run of consecutive cut points (ascending) with the highest score (None: not allowed), as the
    index of its first cut and a threshold in the middle of the thresholds it stands for: a threshold t refuses
    p < t, so every t in (cuts[first - 1], cuts[last]] scores the same."""
    allowed = [score for score in scores if score is not None]
    if not allowed:
        return None
    most = max(allowed)
    first = scores.index(most)
    last = first
    while last + 1 < len(cuts) and scores[last + 1] == most:
        last += 1
    lower = cuts[first - 1] if first > 0 else 0.0
    return first, round((lower + cuts[last]) / 2, 6)


def fit_support(
    cases: list[Case], line: LinearModel, composition: Composition, lists: Composition
) -> tuple[LinearModel, float, frozenset[str], dict[str, Any]]:
    rows: list[np.ndarray] = []
    labels: list[bool] = []
    type_found: list[bool] = []
    strict_type: list[str] = []  # the question's strict answer type, if any
    correct: list[bool] = []
    usable = [c for c in cases if c.intent != "record" and c.question.kind in ("rag", "none")]
    refused_first = [c for c in usable if c.unknown_name or not c.candidates]
    scored = [c for c in usable if c not in refused_first]
    for case in scored:
        chosen = lists if vocabulary().wants_list(case.question.question) else composition
        selection = select(rank_candidates(list(case.candidates), _line_only(line)), chosen)
        assert selection is not None
        features = support_features(selection, case.evidence, case.answer_type)
        rows.append(features)
        labels.append(case.answerable)
        correct.append(_passes(case, selection))
        type_found.append(bool(features[SUPPORT_FEATURES.index("type_found")]))
        strict_type.append(case.answer_type.name if case.answer_type is not None and case.answer_type.strict else "")
    matrix, answerable = np.vstack(rows), np.asarray(labels)
    # Learn from the clear cases: answers that hold the answer against questions the documents do not answer
    # (an answerable question whose selection missed its answer teaches nothing about support). The threshold
    # below is still chosen over every question.
    clear = ~answerable | np.asarray(correct)
    support = fit_logistic(matrix[clear], answerable[clear], SUPPORT_FEATURES)
    probabilities = support.probabilities(matrix)
    kinds = np.asarray(strict_type)
    missing_type = ~np.asarray(type_found)
    answerable_total = sum(c.answerable for c in usable)
    unanswerable_total = len(usable) - answerable_total
    pre_refused_answerable = sum(c.answerable for c in refused_first)
    pre_refused_none = len(refused_first) - pre_refused_answerable
    passing = np.asarray(correct)

    def best_threshold(strict: frozenset[str]) -> tuple[int, float, dict[str, Any]] | None:
        """The most passes any threshold gives, the threshold in the middle of the first run of cut points that
        give them (not at its edge, where one question's probability sits: a refit on slightly different
        features should not flip that question), and the refusal counts."""
        blocked = np.isin(kinds, sorted(strict)) & missing_type
        cuts = sorted(set(np.round(probabilities, 6)) | {0.0})
        outcomes: list[tuple[int, dict[str, Any]] | None] = []
        for threshold in cuts:
            refused = (probabilities < threshold) | blocked
            answerable_refused = pre_refused_answerable + int((refused & answerable).sum())
            none_refused = pre_refused_none + int((refused & ~answerable).sum())
            if answerable_refused > MAX_ANSWERABLE_REFUSED * answerable_total:
                outcomes.append(None)
                continue
            # questions that pass: unanswerable ones refused, answerable ones answered with their answer
            passed = none_refused + int((~refused & answerable & passing).sum())
            stats = {
                "answerable_refused": f"{answerable_refused}/{answerable_total}",
                "unanswerable_refused": f"{none_refused}/{unanswerable_total}",
                "passed": f"{passed}/{len(usable)}",
            }
            outcomes.append((passed, stats))
        best = middle_of_best_run(cuts, [None if outcome is None else outcome[0] for outcome in outcomes])
        if best is None:
            return None
        first, threshold = best
        chosen = outcomes[first]
        assert chosen is not None
        return chosen[0], threshold, chosen[1]

    # Greedily make an answer type strict while that lets more tune questions pass.
    strict: frozenset[str] = frozenset()
    found = best_threshold(strict)
    assert found is not None
    for kind in sorted({kind for kind in strict_type if kind}):
        trial = best_threshold(strict | {kind})
        if trial is not None and trial[0] > found[0]:
            strict, found = strict | {kind}, trial
    choice = (found[0], found[1], strict, found[2])
    assert choice is not None
    return support, choice[1], choice[2], {"questions": len(usable), **choice[3]}


def fit_answer_model(
    suite: list[EvalSet], work_dir: Path, settings: Settings, tune_sets: Sequence[str] = TUNE_SETS
) -> tuple[AnswerModel, dict[str, Any]]:
    if held_out := [name for name in tune_sets if name.startswith("field-check")]:
        raise ValueError(f"{', '.join(held_out)}: the held-out sets are never tuned on")
    cases: list[Case] = []
    for item, assistant in set_assistants(suite, work_dir, settings, only=tune_sets):
        cases += collect_cases(assistant, item.name, load_questions(item.questions))
    lines = [c for c in cases if c.answerable and c.labels.any()]
    rows = np.vstack([c.candidates[i].features for c in lines for i in range(len(c.candidates))])
    labels = np.concatenate([c.labels for c in lines])
    line = fit_logistic(rows, labels, LINE_FEATURES)
    wants_list = [vocabulary().wants_list(c.question.question) for c in cases]
    composition, composition_stats = fit_composition([c for c, w in zip(cases, wants_list, strict=True) if not w], line)
    lists, list_stats = fit_composition([c for c, w in zip(cases, wants_list, strict=True) if w], line)
    support, threshold, strict, support_stats = fit_support(cases, line, composition, lists)
    model = AnswerModel(line, support, threshold, composition, lists, strict)
    provenance = {
        "command": "renkei fit --suite api/bench/questions/eval_sets.yaml",
        "fitted": date.today().isoformat(),
        "tune_sets": [name for name in tune_sets if any(item.name == name for item in suite)],
        "questions": len(cases),
        "line_model": {"lines": len(labels), "answering_lines": int(labels.sum()), "questions": len(lines)},
        "composition": composition_stats,
        "list_composition": list_stats,
        "support": support_stats,
        "python": platform.python_version(),
    }
    return model, provenance


def write_answer_model(model: AnswerModel, provenance: dict[str, Any], path: Path = MODEL_FILE) -> Path:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(model.to_json(provenance), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    partial.replace(path)
    return path
