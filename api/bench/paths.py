"""Where the question sets and the corpora they are asked over live (standard library only: cheap to import).

The question sets are package data beside this module; the corpora stay in the repository's ``corpus/``.
"""

from __future__ import annotations

from pathlib import Path

QUESTIONS_DIR = Path(__file__).resolve().parent / "questions"
DEV_QUESTIONS = QUESTIONS_DIR / "dev.yaml"
# The suite: every question set with the corpora it is asked over (``renkei eval --suite``, ``renkei fit``).
SUITE_FILE = QUESTIONS_DIR / "eval_sets.yaml"
# Documents in other towns' layouts, each with a hand-kept record file, split by document (``split.yaml``).
EXTRACTION_SET = QUESTIONS_DIR / "extraction"

# The checkout this package runs from: a suite's corpora are named relative to it.
REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO_ROOT / "corpus" / "sample"
SAMPLE_REPORT = SAMPLE_DIR / "osaka_r5_zaitaku_renkei_progress.txt"
