"""``renkei bench extraction``: draft extraction time for a report of N pages (the 2-core target: 20 pages < 30 s).

The report is built from the sample report (≈10 pages of PDF text) and the labelled extraction set's
documents (other towns' layouts), one page per ``PAGE_CHARS`` characters, so both the sample's patterns and
the free-layout pass run. Measured cold (first call in the process: vocabulary, and the NER model if a
lecturer's name needs it) and warm, with and without the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.bench.harness import timed
from api.bench.paths import EXTRACTION_SET, SAMPLE_REPORT
from records import ner
from records.extraction import extract_proposals

PAGE_CHARS = 1500  # characters of Japanese text on a printed A4 report page, roughly
SET_DIR = EXTRACTION_SET / "documents"


def build_report(pages: int, sample: Path = SAMPLE_REPORT) -> str:
    """About ``pages`` pages of text: the sample and the labelled documents, repeated, page numbers between."""
    parts = [sample.read_text(encoding="utf-8")]
    parts += [path.read_text(encoding="utf-8") for path in sorted(SET_DIR.glob("*.txt")) + sorted(SET_DIR.glob("*.md"))]
    text, page = "", 1
    while len(text) < pages * PAGE_CHARS:
        for part in parts:
            text += f"{part}\n\n- {page} -\n\n"
            page += 1
            if len(text) >= pages * PAGE_CHARS:
                break
    return text


def run_extraction_benchmark(pages: int, sample: Path = SAMPLE_REPORT) -> dict[str, Any]:
    text = build_report(pages, sample)

    def extract() -> int:
        return len(extract_proposals("bench/report.txt", text))

    proposals, cold_s = timed(extract)
    _, warm_s = timed(extract)
    with ner.disabled():
        rules_proposals, rules_s = timed(extract)
    loaded_by_extraction = ner.loaded()
    model_ready, load_s = timed(ner.available)
    events = [p for p in extract_proposals("bench/report.txt", text) if p.kind == "event"]
    all_quotes_s = 0.0
    if model_ready:  # the worst case: every event's passage through the model
        _, all_quotes_s = timed(lambda: ner.entities([p.quote for p in events]))
    return {
        "pages": pages,
        "chars": len(text),
        "proposals": proposals,
        "cold_seconds": round(cold_s, 2),
        "warm_seconds": round(warm_s, 2),
        "rules_only_seconds": round(rules_s, 2),
        "rules_only_proposals": rules_proposals,
        "ner_model_loaded_by_extraction": loaded_by_extraction,
        "ner_model_load_seconds": round(load_s, 2) if model_ready else None,
        "ner_all_event_passages_seconds": round(all_quotes_s, 2) if model_ready else None,
        "worst_case_seconds": round(cold_s + load_s + all_quotes_s, 2),
        "target_seconds": 30,
    }
