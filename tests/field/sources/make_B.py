"""Generate binary field documents for prefix B from their source text.

B03_yokohama-kohoku_training_report.pdf  (reportlab, HeiseiKakuGo-W5)
"""

from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

HERE = Path(__file__).resolve().parent
OUT = HERE.parent.parent.parent / "corpus" / "field"
FONT = "HeiseiKakuGo-W5"


def make_pdf(name: str) -> Path:
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    src = (HERE / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    title = ParagraphStyle("t", fontName=FONT, fontSize=15, leading=22, spaceAfter=6)
    h2 = ParagraphStyle("h", fontName=FONT, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4)
    body = ParagraphStyle("b", fontName=FONT, fontSize=9.5, leading=15, wordWrap="CJK")
    cell = ParagraphStyle("c", fontName=FONT, fontSize=8.5, leading=12, wordWrap="CJK")
    story = []
    rows: list[list[str]] = []

    def flush():
        if not rows:
            return
        ncol = max(len(r) for r in rows)
        data = [[Paragraph(c, cell) for c in r + [""] * (ncol - len(r))] for r in rows]
        head = rows[0][0]
        widths = {"時間": [30, 76, 64], "質問": [120, 50], "職種": [80, 45, 45]}.get(head, [170 / ncol] * ncol)
        t = Table(data, repeatRows=1, hAlign="LEFT", colWidths=[w * mm for w in widths])
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(t)
        story.append(Spacer(1, 4 * mm))
        rows.clear()

    for line in src:
        s = line.strip()
        if s.startswith("|"):
            rows.append([c.strip() for c in s.strip("|").split("|")])
            continue
        flush()
        if not s:
            continue
        if s == "PAGEBREAK":
            story.append(PageBreak())
        elif s.startswith("## "):
            story.append(Paragraph(s[3:], h2))
        elif s.startswith("# "):
            story.append(Paragraph(s[2:], title))
            story.append(Spacer(1, 2 * mm))
        else:
            story.append(Paragraph(s, body))
    flush()
    out = OUT / f"{name}.pdf"
    doc = SimpleDocTemplate(
        str(out),
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title="令和6年度 港北区多職種連携研修会 開催報告",
    )
    doc.build(story)
    return out


if __name__ == "__main__":
    print(make_pdf("B03_yokohama-kohoku_training_report"))
