"""The fitted weights of the answer layer, read from ``assistant/data/answer_model.json``.

``renkei fit`` writes the file (scikit-learn logistic regressions over features of the tune question sets); at
answer time only numpy is needed. Two models: one scores each candidate line (does it answer?), one scores a
whole selection (do the documents answer at all?), plus the composition parameters chosen by grid search.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.vocabulary import vocabulary

MODEL_FILE = Path(__file__).parent / "data" / "answer_model.json"


@dataclass(frozen=True)
class LinearModel:
    """A logistic regression over named, standardised features."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        if rows.size == 0:
            return np.zeros(0)
        z = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        p: np.ndarray = 1.0 / (1.0 + np.exp(-z))
        return p

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "coef": self.coef.round(6).tolist(),
            "intercept": round(self.intercept, 6),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearModel:
        return cls(
            tuple(data["features"]),
            np.asarray(data["mean"], dtype=float),
            np.asarray(data["scale"], dtype=float),
            np.asarray(data["coef"], dtype=float),
            float(data["intercept"]),
        )


@dataclass(frozen=True)
class Composition:
    """How many lines make an answer (chosen by grid search on the tune sets)."""

    continuation: int  # lines after the best one, in the same paragraph or list, that come with it
    ratio: float  # other lines join when their probability is at least this share of the best one's
    extra: int  # at most this many such other lines
    max_chars: int  # the answer's lines stop here (the answer stays under 600 characters with its marks)
    siblings: int = 0  # when the best line is an item of a list: this many items of the same list around it


@dataclass(frozen=True)
class AnswerModel:
    line: LinearModel
    support: LinearModel
    support_threshold: float  # below it the documents are taken not to answer
    composition: Composition  # for questions that ask one fact
    list_composition: Composition  # for questions that ask for several things (どんな取組み, 手順, 意見)
    # the answer types (amount, percentage …) whose missing instance in the answer lines means no answer
    strict_answer_types: frozenset[str]

    def composition_for(self, question: str) -> Composition:
        return self.list_composition if vocabulary().wants_list(question) else self.composition

    def to_json(self, provenance: dict[str, Any]) -> dict[str, Any]:
        return {
            "line": self.line.to_json(),
            "support": self.support.to_json(),
            "support_threshold": round(self.support_threshold, 6),
            "composition": vars(self.composition),
            "list_composition": vars(self.list_composition),
            "strict_answer_types": sorted(self.strict_answer_types),
            "provenance": provenance,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnswerModel:
        return cls(
            LinearModel.from_json(data["line"]),
            LinearModel.from_json(data["support"]),
            float(data["support_threshold"]),
            Composition(**data["composition"]),
            Composition(**data["list_composition"]),
            frozenset(data["strict_answer_types"]),
        )


def load_answer_model(path: Path = MODEL_FILE) -> AnswerModel:
    return AnswerModel.from_json(json.loads(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def answer_model() -> AnswerModel:
    """The fitted model shipped with the package (read once)."""
    return load_answer_model()
