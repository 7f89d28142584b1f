"""The error the admin's document actions (upload, delete, restore) raise when they must refuse."""

from __future__ import annotations


class ActionRefused(ValueError):
    """Nothing was changed; ``status`` is the HTTP status that fits, ``message`` is Japanese / English."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
