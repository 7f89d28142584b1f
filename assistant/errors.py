"""Errors the assistant reports to its callers (the API maps them to 4xx answers)."""

from __future__ import annotations


class InvalidRequest(ValueError):
    pass


class UnknownWardError(InvalidRequest):
    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown ward {name!r}{hint}")
        self.name = name
        self.suggestions = suggestions
