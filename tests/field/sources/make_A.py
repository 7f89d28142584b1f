"""Generate binary field documents for PREFIX A from their text sources.

A04_watari_kyougikai_kisoku.docx  <- A04_watari_kyougikai_kisoku.docx.txt
Markup in the source: '# ' Heading 1, '## ' Heading 2, '### ' Heading 3,
lines starting with '|' are table rows (consecutive rows form one table),
other non-empty lines are paragraphs.
"""

from pathlib import Path

from docx import Document

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[2] / "corpus" / "field"


def make_docx(src: Path, dst: Path) -> None:
    doc = Document()
    rows: list[list[str]] = []

    def flush_table() -> None:
        if not rows:
            return
        ncol = max(len(r) for r in rows)
        table = doc.add_table(rows=len(rows), cols=ncol)
        table.style = "Table Grid"
        for i, r in enumerate(rows):
            for j in range(ncol):
                table.cell(i, j).text = r[j] if j < len(r) else ""
        rows.clear()

    for line in src.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if s.startswith("|"):
            rows.append([c.strip() for c in s.strip("|").split("|")])
            continue
        flush_table()
        if not s:
            continue
        if s.startswith("### "):
            doc.add_heading(s[4:], level=3)
        elif s.startswith("## "):
            doc.add_heading(s[3:], level=2)
        elif s.startswith("# "):
            doc.add_heading(s[2:], level=1)
        else:
            doc.add_paragraph(s)
    flush_table()
    doc.save(dst)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    name = "A04_watari_kyougikai_kisoku.docx"
    make_docx(HERE / f"{name}.txt", OUT / name)
    print("wrote", OUT / name)
