"""Documents made for the tests: a PDF of Japanese lines (reportlab's built-in CID font, no font file needed)."""

from __future__ import annotations

from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

JP_FONT = "HeiseiKakuGo-W5"


def write_pdf(path: Path, pages: list[list[str]], *, title: str | None = None) -> Path:
    pdfmetrics.registerFont(UnicodeCIDFont(JP_FONT))
    pdf = canvas.Canvas(str(path))
    if title:
        pdf.setTitle(title)
    for lines in pages:
        pdf.setFont(JP_FONT, 12)
        for n, line in enumerate(lines):
            pdf.drawString(50, 800 - 20 * n, line)
        pdf.showPage()
    pdf.save()
    return path
