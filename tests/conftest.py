"""Shared test setup: no network for models, no telemetry, and the converted e5 model once per session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

pytest_plugins = ("tests.conftest_model",)
