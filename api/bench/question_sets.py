"""The question sets: the question file format (``questions/dev.yaml`` documents its fields) and the suite file.

A suite file lists named sets, each a question file and the corpora it is asked over. Its ``questions`` are
relative to the suite file (the sets sit beside it), its ``corpus`` entries relative to the repository (the
corpora stay in ``corpus/``), so ``renkei eval SUITE --suite`` works from any directory.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, field_validator

from api.bench.paths import DEV_QUESTIONS, REPO_ROOT


class Question(BaseModel):
    id: str
    persona: str = "staff"
    kind: str
    question: str
    ward: str | None = None
    as_of: date | None = None
    must: list[list[str]] = Field(default_factory=list)
    must_not: list[str] = Field(default_factory=list)
    document: str | None = None  # field sets: the document that holds the answer (the split is by document)

    @field_validator("must", mode="before")
    @classmethod
    def _texts(cls, groups: list[list[object]]) -> list[list[str]]:
        return [[str(alternative) for alternative in group] for group in groups]

    @field_validator("must_not", mode="before")
    @classmethod
    def _forbidden_texts(cls, values: list[object]) -> list[str]:
        return [str(value) for value in values]

    source: str | None = None


def load_questions(path: Path) -> list[Question]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [Question.model_validate(item) for item in data]


def dev_questions() -> list[Question]:
    """The public development set on the sample report (the benchmarks' queries)."""
    return load_questions(DEV_QUESTIONS)


class EvalSet(BaseModel):
    name: str
    questions: Path
    corpus: list[Path]


def load_suite(path: Path, repo_root: Path = REPO_ROOT) -> list[EvalSet]:
    """The sets of a suite file, their question files resolved against the suite's folder and their corpora
    against ``repo_root`` (absolute paths stay as they are)."""
    sets = [EvalSet.model_validate(item) for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []]
    for item in sets:
        item.questions = path.resolve().parent / item.questions
        item.corpus = [repo_root / corpus for corpus in item.corpus]
    return sets
