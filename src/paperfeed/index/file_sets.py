"""What every set of index files in a machine's index folder shares: a name per database
and model, and a manifest that names the current files (read by
src/paperfeed/index/vectors/embedding_file.py and src/paperfeed/index/recommend/files.py)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def set_stem(kind: str, model: str, database: str) -> str:
    """The file-name stem of one kind of file set for a database and a model."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model)[:40]
    digest = hashlib.sha256(f"{database}\n{model}".encode()).hexdigest()[:8]
    return f"{kind}-{database[:16] or 'db'}-{slug}-{digest}"


def read_manifest(path: Path, expected: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest at ``path``, or None when it is absent, unreadable (logged) or made for
    something else (any of ``expected``'s keys holds another value)."""
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring the unreadable manifest %s: %s", path, exc)
        return None
    if any(
        manifest.get(key, "" if key == "database" else None) != value
        for key, value in expected.items()
    ):
        return None
    return manifest
