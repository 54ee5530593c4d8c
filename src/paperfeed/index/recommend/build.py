"""Make the recommendation features in a child process (``python -m
paperfeed.index.recommend.build``), for a serving process that finds them missing or far
behind on a large hub.

A full fit is minutes of pure-Python tokenising at 100 k papers: in a thread of a serve
worker it would hold the interpreter lock that the worker's requests need, so the worker
hands it to a child and maps the files the child writes (:mod:`.cache`). The
child reads what to do from the environment (``PAPERFEED_RECOMMEND_BUILD``, JSON: the
database URL, the embedding model, the index folder), never from its arguments, which
other users of the machine can read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

ENV = "PAPERFEED_RECOMMEND_BUILD"


def build_in_child(engine: Engine, model: str, directory: Path, timeout: float) -> bool:
    """Have a child process bring the files in ``directory`` in step; whether it did."""
    job = {
        "url": engine.url.render_as_string(hide_password=False),
        "model": model,
        "directory": str(directory),
    }
    env = {**os.environ, ENV: json.dumps(job)}
    try:
        done = subprocess.run(  # this interpreter, this module, no shell
            [sys.executable, "-m", __name__],
            env=env,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def main() -> int:
    from paperfeed.index.recommend.cache import FeatureCache
    from paperfeed.store.engine import make_engine

    job = json.loads(os.environ[ENV])
    engine = make_engine(job["url"], create=False)
    try:
        cache = FeatureCache(engine, job["model"], Path(job["directory"]))
        cache.in_child_over = None  # this is the child
        cache.features()
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
