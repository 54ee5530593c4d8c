"""Where the benchmarks find their data.

In the repository: the recorded test fixtures (``tests/fixtures``, see SOURCE.md there) and
the 660 seed-page papers shipped in the package (``paperfeed.ingest.sample``).

Outside it: evaluation data that may not be redistributed (BEIR SciFact is CC BY-NC, the
CiteULike subset has no licence) and the large Hugging Face daily archive and raw seed pages,
in the folder named by ``PAPERFEED_EXTERNAL_DATA_DIR`` (default ``../shared/data``; a relative
path starts at the repository's root). A benchmark that needs one of those and cannot find it
stops with a message that says where it looked and how to point it elsewhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
#: The exit status of a benchmark whose data is missing (2, like a usage error).
MISSING = 2


def external_data_dir() -> Path:
    """The folder of evaluation data kept outside the repository (the setting, resolved)."""
    from paperfeed.config import load_settings

    return load_settings().external_data_path(ROOT)


def external(relative: str, what: str) -> Path:
    """``relative`` under the external data folder; exits with a clear message when absent."""
    path = external_data_dir() / relative
    if not path.exists():
        sys.stderr.write(
            f"{what} not found at {path}: set PAPERFEED_EXTERNAL_DATA_DIR to the folder that "
            "holds it (it is evaluation data that does not ship with paperfeed)\n"
        )
        raise SystemExit(MISSING)
    return path


def seed_papers() -> list[tuple[str, str]]:
    """The 660 seed-page papers as (title, abstract), from the copy shipped in the package."""
    from paperfeed.ingest.sample import load_sample_rows

    return [(row.title, row.abstract) for row in load_sample_rows()]
