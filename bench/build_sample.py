"""Rebuild the bundled sample corpus ``src/paperfeed/ingest/data/sample_papers.jsonl.gz``.

Reads the raw seed pages, ``seed_pages.jsonl`` in ``PAPERFEED_EXTERNAL_DATA_DIR``
(default ``../shared/data``; 702 rows from five Hugging Face papers pages, 660 unique
papers), keeps the first occurrence of each paper (titles compared with
:func:`paperfeed.models.normalise_title`) with the page and rank where it first
appeared, and writes them in file order as gzip'd JSON lines.
The output is byte-for-byte reproducible (sorted keys, gzip mtime 0)::

    .venv/bin/python bench/build_sample.py [SEED_PAGES] [OUTPUT]
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from data_paths import ROOT, external
from paperfeed.models import normalise_title

OUTPUT = ROOT / "src" / "paperfeed" / "ingest" / "data" / "sample_papers.jsonl.gz"


def unique_papers(seed_pages: Path) -> list[dict[str, object]]:
    """The first occurrence of each paper: title, abstract, page, rank."""
    seen: set[str] = set()
    papers: list[dict[str, object]] = []
    with seed_pages.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            key = normalise_title(row["title"])
            if key in seen:
                continue
            seen.add(key)
            papers.append(
                {
                    "title": row["title"],
                    "abstract": row["abstract"],
                    "page": row["page"],
                    "rank": row["rank"],
                }
            )
    return papers


def build(seed_pages: Path, output: Path = OUTPUT) -> int:
    """Write the corpus; return the number of papers written."""
    papers = unique_papers(seed_pages)
    body = "".join(
        json.dumps(paper, ensure_ascii=False, sort_keys=True) + "\n" for paper in papers
    ).encode("utf-8")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(gzip.compress(body, compresslevel=9, mtime=0))
    return len(papers)


if __name__ == "__main__":
    seed = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else external("seed_pages.jsonl", "The seed pages")
    )
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else OUTPUT
    count = build(seed, out)
    print(f"wrote {count} papers to {out}")
