"""The one text-normalising helper: every package compares Japanese text in the same form.

NFKC folds full-width digits and letters (９月 → 9月, ＡＣＰ → ACP) and compatibility characters; the
compact form also drops all whitespace, because PDF extraction breaks lines and spaces words apart
(「採 用 月」) where the document itself has none.
"""

from __future__ import annotations

import unicodedata


def nfkc(text: str) -> str:
    """NFKC form, for matching only: stored text and citations keep the original characters."""
    return unicodedata.normalize("NFKC", text)


def compact(text: str) -> str:
    """NFKC without whitespace: the form in which answers, quotes and names are compared."""
    return "".join(nfkc(text).split())
