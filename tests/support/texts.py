"""Texts every tokenizer and embedding backend is checked on: odd widths, combining marks, control characters,
special-token look-alikes, emoji and the empty string."""

from __future__ import annotations

EDGE_CASES = [
    "9時～12時 〜 ~",
    "ﾃﾞｰﾀ ｶﾞｲﾄﾞ",
    "か\u3099き\u309a",
    "Ａｂｃ① ㍻ ㌔ ℡",
    "\ttab\t\tand\nnew\r\nlines  and   spaces ",
    "a\u200bb\ufeffc\u2581d\x07e",
    "literal </s> and <s> and <mask>",
    "\U0001f9ff\U0001f9ff 未知",
    "",
]
