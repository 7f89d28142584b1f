"""Python and the ``renkei`` command in a fresh process, from the repository, as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence

from tests.support.paths import REPO


def run_python(args: Sequence[str], env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python <args>`` in the repository; the caller reads the return code and the (text) output."""
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )


def run_renkei(env: Mapping[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``renkei <args>`` (as ``python -m api.cli``) in the repository."""
    return run_python(["-m", "api.cli", *args], env, timeout)
