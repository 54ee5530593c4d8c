"""bench/search_speed.py's targets and its printed table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from search_speed_inputs import EXACT_MAX, LIMIT, TARGETS, K


def evaluate_targets(sizes: dict[str, dict]) -> list[dict[str, Any]]:
    out = []
    for what, size, limit, unit in TARGETS:
        row = sizes.get(str(size))
        value: float | None = None
        if row is not None:
            value = {
                "hybrid p95": lambda r: r["latency_ms"]["hybrid"]["p95"],
                "hybrid e2e p95": lambda r: r["latency_ms"]["hybrid_e2e"]["p95"],
                "serve peak RSS": lambda r: r["peak_rss_mb"]["serve"],
                "recall@10": lambda r: r["semantic_recall_at_10"],
            }[what](row)
        at_least = what == "recall@10"  # the others are ceilings
        passed = None if value is None else (value >= limit if at_least else value <= limit)
        out.append(
            {
                "target": f"{what} {'>=' if at_least else '<='} {limit:g}"
                f"{' ' + unit if unit else ''} at {size:,} papers",
                "size": size,
                "value": value,
                "limit": limit,
                "unit": unit,
                "pass": passed,
            }
        )
    return out


def print_report(report: dict[str, Any]) -> None:
    sizes = report["sizes"]
    names = list(sizes)
    width = 22

    def line(label: str, cells: Sequence[str]) -> None:
        print(f"{label:<40}" + "".join(f"{c:>{width}}" for c in cells))

    def each(fn: Callable[[dict], str]) -> list[str]:
        return [fn(sizes[s]) for s in names]

    def lat(row: dict, key: str) -> str:
        v = row["latency_ms"][key]
        return f"{v['p50']:.2f} / {v['p95']:.2f}"

    s = report["settings"]
    m = report["machine"]
    print(
        f"search speed: paperfeed on SQLite {m['sqlite']}, {m['cpus']} cores, "
        f"Python {m['python']}, BLAS threads {m['blas_threads']}, "
        f"load average {m['load_average_at_start']:.1f} at start, "
        f"{m['load_average_at_end']:.1f} at end"
    )
    print(
        f"{s['queries']} queries ({s['phrase_queries']} with a phrase), k={K} per engine, "
        f"search() limit {LIMIT}, exact_max {EXACT_MAX:,}, embedder {s['embedder']}"
    )
    for name in names:
        row = sizes[name]
        kinds = row["vectors"] if isinstance(row["vectors"], dict) else {row["vectors"]: 1}
        if "random" in kinds:
            kind = f"RANDOM unit vectors ({row['dim']} dims), not model output"
        else:
            kind = (
                f"{kinds.get('real', 0):,} real papers with the model's {row['dim']}-dim "
                f"vectors, {kinds.get('synthetic', 0):,} synthetic (mixtures of real ones)"
            )
        print(f"  N={int(name):,}: {kind}")
    print()
    line("papers", [f"{int(n):,}" for n in names])
    print("build and load (s)")
    line("  generate synthetic papers", each(lambda r: f"{r['build_s']['generate_s']:.1f}"))
    line(
        "  embed papers (real model)",
        each(lambda r: f"{r['build_s']['embed_s']:.1f}" if "embed_s" in r["build_s"] else "-"),
    )
    line(
        "  synthesize (mixtures of real papers)",
        each(lambda r: f"{r['build_s'].get('synthesize_s', 0):.1f}"),
    )
    line("  insert_papers", each(lambda r: f"{r['build_s']['papers_s']:.1f}"))
    line("  lexical.sync (FTS5)", each(lambda r: f"{r['build_s']['lexical_s']:.1f}"))
    line(
        "  tantivy word index build",
        each(lambda r: f"{r['build_s'].get('tantivy_s', float('nan')):.1f}"),
    )
    line("  store_vectors", each(lambda r: f"{r['build_s']['vectors_s']:.1f}"))
    line("  commits", each(lambda r: f"{r['build_s']['commit_s']:.1f}"))
    line(
        "  vector index load (kind)",
        each(lambda r: f"{r['serve_s']['index_load_s']:.1f} ({r['vector_index']['kind']})"),
    )
    line(
        "  vector index reload from cache",
        each(
            lambda r: (
                f"{r['serve_s']['index_reload_s']:.1f}" if "index_reload_s" in r["serve_s"] else "-"
            )
        ),
    )
    line(
        "  bm25s tokenize + index (peer)",
        each(lambda r: f"{r['peers_s']['bm25s_tokenize_s'] + r['peers_s']['bm25s_index_s']:.1f}"),
    )
    print("disk (MB)")
    line(
        "  SQLite file + -wal (-wal while writing)",
        each(lambda r: f"{r['disk']['db_wal_mb']:,.0f} ({r['disk']['wal_mb_while_open']:,.0f})"),
    )
    line(
        "  of which papers / FTS5 / vectors",
        each(
            lambda r: "{papers:,.0f} / {lexical:,.0f} / {vectors:,.0f}".format(
                **r["disk"]["parts_mb"]
            )
        ),
    )
    line("  HNSW cache", each(lambda r: f"{r['disk']['hnsw_cache_mb']:,.0f}"))
    line("  tantivy word index", each(lambda r: f"{r['disk'].get('tantivy_mb', 0):,.0f}"))
    line("serve RSS after the queries (MB)", each(lambda r: f"{r.get('serve_rss_mb', 0):,.0f}"))
    print("peak RSS (MB)")
    for key, label in (
        ("serve", "  serve (model + indexes + queries)"),
        ("build", "  build"),
        ("bm25s", "  bm25s peer"),
        ("floor", "  NumPy floor"),
    ):
        line(label, each(lambda r, k=key: f"{r['peak_rss_mb'][k]:,.0f}"))
    print("query latency (ms, p50 / p95)")
    line(
        "  query embedding (model call, apart)",
        each(lambda r: "{p50:.2f} / {p95:.2f}".format(**r["query_embedding_ms"])),
    )
    for key, label in (
        ("lexical", "  lexical: tantivy WordIndex k=100"),
        ("lexical_fts5", "  lexical: FTS5 lexical.search k=100"),
        ("bm25s", "  lexical peer: bm25s k=100"),
        ("semantic", "  semantic: index().search k=100"),
        ("numpy_floor", "  semantic floor: NumPy brute force"),
        ("hybrid", "  hybrid: search(), query vector given"),
        ("hybrid_e2e", "  hybrid, query embedded inside (e2e)"),
        ("search_lexical", "  search() mode=lexical"),
        ("search_semantic", "  search() mode=semantic"),
    ):
        line(label, each(lambda r, k=key: lat(r, k)))
    line("  ratio tantivy / bm25s (p50)", each(lambda r: f"{r['ratios']['lexical_vs_bm25s']:.1f}×"))
    line("  ratio FTS5 / bm25s (p50)", each(lambda r: f"{r['ratios']['fts5_vs_bm25s']:.1f}×"))
    line(
        "  ratio semantic / floor (p50)", each(lambda r: f"{r['ratios']['semantic_vs_floor']:.2f}×")
    )
    line("  semantic recall@10 vs floor", each(lambda r: f"{r['semantic_recall_at_10']:.3f}"))
    line(
        "  tantivy top-10 overlap with bm25s",
        each(lambda r: f"{r['lexical_overlap_at_10_with_bm25s']:.3f}"),
    )
    line(
        "  FTS5 top-10 overlap with bm25s",
        each(lambda r: f"{r['fts5_overlap_at_10_with_bm25s']:.3f}"),
    )
    print("hybrid, part by part (ms, p50 / p95)")
    for key, label in (
        ("part_lexical", "  tantivy k=100 (phrases held)"),
        ("part_vector", "  vector search k=100"),
        ("part_constrain", "  phrases on vector hits (tantivy)"),
        ("part_fusion", "  normalised_combination"),
        ("part_load", "  read_papers (20)"),
        ("parts_total", "  sum of the parts"),
    ):
        line(label, each(lambda r, k=key: lat(r, k)))
    print("FTS5 diagnosis")
    line(
        "  papers matched per query (median)",
        each(
            lambda r: (
                f"{r['lexical_matches']['median']:,.0f} "
                f"({100 * r['lexical_matches']['median_share']:.0f}%)"
            )
        ),
    )
    line(
        "  ... in the slowest tenth",
        each(lambda r: f"{r['lexical_matches']['slowest_tenth_median']:,.0f}"),
    )
    line(
        "  corr(matches, latency)",
        each(lambda r: f"{r['lexical_matches']['correlation_with_latency']:.2f}"),
    )
    line("  MATCH unranked LIMIT 100", each(lambda r: lat(r, "fts_unranked")))
    line("  MATCH count(*) (walk all postings)", each(lambda r: lat(r, "fts_count")))
    print()
    print("embedding throughput (real seed papers, chunks of 64)")
    for key, row in report["throughput"].items():
        print(
            f"  {key:<8} {row['name']:<20} {row['papers_per_s']:>10,.0f} papers/s"
            f"   ({row['docs']} papers, load {row['load_s']:.1f} s, "
            f"peak RSS {row['peak_rss_mb']:,.0f} MB)"
        )
    print()
    print("targets")
    for t in report["targets"]:
        if t["value"] is None:
            verdict, value = "not measured", "-"
        else:
            verdict = "PASS" if t["pass"] else "FAIL"
            value = f"{t['value']:,.1f} {t['unit']}" if t["unit"] else f"{t['value']:.3f}"
        print(f"  {t['target']:<45} {value:>14}   {verdict}")
