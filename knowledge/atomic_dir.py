"""Directories that appear whole or not at all: written under a temporary name, then renamed into place."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def make_readable(root: Path) -> None:
    """mkdtemp and safetensors create owner-only entries; a model directory is ordinary shared data."""
    os.chmod(root, 0o755)
    for path in root.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def replace_dir(new: Path, target: Path) -> None:
    old = None
    if target.exists() or target.is_symlink():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, old)
    try:
        os.rename(new, target)
    except OSError:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
