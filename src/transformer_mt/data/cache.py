"""A tiny keyed JSON cache for derived data that is slow to rebuild.

Each entry stores the key it was built for; a missing, unreadable or stale entry reads as
``None`` so the caller simply rebuilds it. Writes go to a temporary file in the same folder and
are moved into place with :func:`os.replace`, so a reader never sees a half-written file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def read_cached(path: Path, key: str) -> Any | None:
    """Return the payload stored at ``path`` for ``key``, or ``None`` if absent or stale."""
    try:
        with open(path, encoding="utf-8") as stream:
            entry = json.load(stream)
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    return entry.get("payload")


def write_cached(path: Path, key: str, payload: Any) -> None:
    """Store ``payload`` (JSON-serialisable) for ``key`` at ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump({"key": key, "payload": payload}, stream, ensure_ascii=False)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
