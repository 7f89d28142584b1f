"""Where the repository and its sample corpus are."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE_CORPUS = REPO / "corpus" / "sample"
SAMPLE = SAMPLE_CORPUS / "osaka_r5_zaitaku_renkei_progress.txt"
