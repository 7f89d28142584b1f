"""Generate the HTML document of writer C from its source text.

Source markup (one element per line):
  "# "  -> h1, "## " -> h2, "- " -> li (grouped into ul),
  "|a|b|" -> table row (first row of a block is the header), other lines -> p.
"""

import html
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[2] / "corpus" / "field"

JOBS = [("C01_sagamihara_center_guide.txt", "C01_sagamihara_center_guide.html")]


def to_html(src: str) -> str:
    lines = src.splitlines()
    title = lines[0].lstrip("# ").strip()
    body, mode, first_row = [], None, True

    def close():
        nonlocal mode
        if mode == "ul":
            body.append("</ul>")
        elif mode == "table":
            body.append("</table>")
        mode = None

    for raw in lines:
        line = raw.strip()
        if not line:
            close()
            continue
        esc = html.escape
        if line.startswith("## "):
            close()
            body.append(f"<h2>{esc(line[3:])}</h2>")
        elif line.startswith("# "):
            close()
            body.append(f"<h1>{esc(line[2:])}</h1>")
        elif line.startswith("- "):
            if mode != "ul":
                close()
                body.append("<ul>")
                mode = "ul"
            body.append(f"  <li>{esc(line[2:])}</li>")
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if mode != "table":
                close()
                body.append('<table border="1">')
                mode = "table"
                first_row = True
            tag = "th" if first_row else "td"
            first_row = False
            body.append("  <tr>" + "".join(f"<{tag}>{esc(c)}</{tag}>" for c in cells) + "</tr>")
        else:
            close()
            body.append(f"<p>{esc(line)}</p>")
    close()
    return (
        '<!DOCTYPE html>\n<html lang="ja">\n<head>\n<meta charset="UTF-8">\n'
        f"<title>{html.escape(title)}｜相模原市</title>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for src, dst in JOBS:
        text = (HERE / src).read_text(encoding="utf-8")
        (OUT / dst).write_text(to_html(text), encoding="utf-8")
        print("wrote", OUT / dst)


if __name__ == "__main__":
    main()
