"""Checks of a chat message shared by the HTTP API and ``renkei ask`` (beyond ``ChatRequest``'s lengths)."""

from __future__ import annotations

import re

# C0 and C1 control characters except tab, line feed and carriage return (NUL included: PostgreSQL
# cannot store it, and no question needs one).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character_problem(text: str, name_ja: str, name_en: str) -> tuple[str, str] | None:
    """``(code, bilingual message)`` when the text holds a control character, else None."""
    found = _CONTROL_RE.search(text)
    if found:
        return "invalid_characters", (
            f"{name_ja}に制御文字（U+{ord(found.group()):04X}）が含まれています。"
            f" / The {name_en} contains a control character (U+{ord(found.group()):04X})."
        )
    return None


def message_problem(message: str) -> tuple[str, str] | None:
    """``(code, bilingual message)`` when the message must be refused, else None."""
    if not message.strip():
        return "message_empty", "メッセージを入力してください。 / The message must not be empty."
    return control_character_problem(message, "メッセージ", "message")
