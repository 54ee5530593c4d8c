"""Measure the similarity floor below which search says "no close match" (refs #15).

For real queries (topics a reader of the sample papers types) and nonsense queries
(invented words, keyboard mash), print the cosine similarity of the nearest paper with the
shipped embedder over the bundled sample papers, and where the two groups separate. The
floor in paperfeed.rank.search (NO_MATCH_FLOOR) comes from this run.

    .venv/bin/python bench/no_match_floor.py [--embedder minilm]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

REAL = [
    "video generation with diffusion models",
    "LLM agents that use tools",
    "speculative decoding for faster inference",
    "reinforcement learning from human feedback",
    "benchmark for code generation",
    "long context attention efficiency",
    "3D scene reconstruction from images",
    "vision language models for robotics",
    "mixture of experts routing",
    "retrieval augmented generation",
    "mathematical reasoning with chain of thought",
    "text to speech synthesis",
    "image editing with instructions",
    "memory for language model agents",
    "quantization of large language models",
    "multimodal benchmark evaluation",
    "world models for planning",
    "hallucination in language models",
    "GUI agents for computer use",
    "protein structure prediction",
    "reward models for preference learning",
    "sparse attention kernels",
    "human motion generation",
    "self-supervised speech representation",
]
NONSENSE = [
    "xqzv blorpt flimflam",
    "zorp quibble snarf",
    "asdfgh jkl qwerty",
    "blibber wumpus frazzle",
    "qqq zzz xxx",
    "florp glimmerdash snoo",
    "vrek tahl muun",
    "grobnitz yallop",
    "plinth wozzle krump",
    "snerg blatt",
    "zyxw vuts rqpo",
    "mimsy borogove tove",
    "kwyjibo",
    "frobnicate the wibble",
    "gloop sprock fnord",
    "hjkl uiop nmbv",
    "bzzt clonk ptang",
    "wugs and blickets",
    "trundlewick marplot",
    "squonk fwoosh",
    "dax wug zib",
    "yabba zonk",
    "quux corge grault",
    "nib nob nub",
]


def main() -> None:
    from paperfeed.config import load_settings
    from paperfeed.index.semantic import semantic_index
    from paperfeed.ingest import jobs
    from paperfeed.ingest.pipeline import ingest
    from paperfeed.store.engine import make_engine
    from paperfeed.store.migrate import migrate

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedder", default="minilm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            database_url=f"sqlite:///{Path(tmp) / 'floor.db'}",
            index_dir=tmp,
            embedder=args.embedder,
            embed_on_ingest=False,
        )
        engine = make_engine(settings.database_url)
        migrate(engine)
        ingest(engine, jobs.sample_source(settings))
        semantic = semantic_index(engine, settings)
        semantic.embed_missing()
        best = {
            name: [semantic.search(q, 1)[0].score for q in queries]
            for name, queries in (("real", REAL), ("nonsense", NONSENSE))
        }
    print(f"embedder {semantic.embedder.name}, {len(REAL)} real and {len(NONSENSE)} nonsense")
    for name, scores in best.items():
        print(
            f"{name:9s} top-1 cosine: min {min(scores):.3f}  median "
            f"{statistics.median(scores):.3f}  max {max(scores):.3f}"
        )
    gap = (max(best["nonsense"]), min(best["real"]))
    print(f"separation: nonsense max {gap[0]:.3f} < real min {gap[1]:.3f}: {gap[0] < gap[1]}")


if __name__ == "__main__":
    main()
