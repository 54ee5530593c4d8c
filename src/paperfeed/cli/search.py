"""`paperfeed search`, `similar`, `index …` and `eval retrieval`: search by words and meaning."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paperfeed.cli.base import Context, echo_json, edge, pass_context
from paperfeed.index.embedders.embedder import EMBEDDERS
from paperfeed.index.lexical import database as lexical
from paperfeed.index.query import parse_query
from paperfeed.index.vectors import in_memory as vectors
from paperfeed.models import StoredPaper
from paperfeed.rank.evaluate import evaluate, load_beir
from paperfeed.rank.search import MODES, Fusion, search, similar
from paperfeed.store import papers as store
from paperfeed.store.engine import writing


def _row(stored: StoredPaper, score: float) -> dict[str, object]:
    p = stored.paper
    return {
        "id": p.arxiv_id,
        "paper_id": stored.id,
        "title": p.title,
        "score": round(score, 6),
        "authors": list(p.authors),
        "published_at": p.published_at.isoformat() if p.published_at else None,
        "featured_on": p.featured_on.isoformat() if p.featured_on else None,
        "url": p.abs_url,
    }


def _print_rows(rows: list[dict[str, object]]) -> None:
    for n, row in enumerate(rows, 1):
        handle = row["id"] or f"#{row['paper_id']}"
        click.echo(f"{n:>3}. {row['score']:>9.4f}  {handle:<16} {row['title']}")


@click.command("search")
@click.argument("query")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@edge
def search_cmd(ctx: Context, query: str, mode: str, limit: int, as_json: bool) -> None:
    """Search papers by words and meaning.

    Syntax: "exact phrase", -exclude, author:NAME, cat:cs.LG, after:/before:YYYY-MM-DD.

    Example: paperfeed search "training-free video generation" --mode hybrid --limit 5
    """
    result = search(
        ctx.engine(),
        ctx.semantic(),
        query,
        mode=mode,
        limit=limit,
        fusion=Fusion.from_settings(ctx.settings),
        words=ctx.words(),
    )
    rows = [_row(s, h.score) for h, s in zip(result.hits, result.papers, strict=True)]
    if as_json:
        echo_json({"data": rows, "count": len(rows), "mode": result.mode, "notice": result.notice})
        return
    if result.notice:
        click.echo(f"note: {result.notice}", err=True)
    if not rows:
        click.echo("no papers match")
    _print_rows(rows)


@click.command("similar")
@click.argument("arxiv_ids", nargs=-1, required=True)
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--after", default=None, help="Only papers published on or after YYYY-MM-DD.")
@click.option("--before", default=None, help="Only papers published on or before YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@edge
def similar_cmd(
    ctx: Context,
    arxiv_ids: tuple[str, ...],
    limit: int,
    after: str | None,
    before: str | None,
    as_json: bool,
) -> None:
    """Papers nearest in meaning to one paper, or to several taken together.

    Example: paperfeed similar 2606.00467 --limit 5 --after 2026-01-01
    """
    ids = [ctx.paper(a).id for a in arxiv_ids]
    window = " ".join(
        f"{key}:{value}" for key, value in (("after", after), ("before", before)) if value
    )
    hits, papers = similar(
        ctx.engine(),
        ctx.semantic(),
        ids,
        limit=limit,
        within=parse_query(window) if window else None,
    )
    rows = [_row(s, h.score) for h, s in zip(hits, papers, strict=True)]
    if as_json:
        echo_json({"data": rows, "count": len(rows)})
        return
    _print_rows(rows)


@click.group("index")
def index_group() -> None:
    """Manage the search indexes (words and meaning)."""


@index_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@edge
def index_status(ctx: Context, as_json: bool) -> None:
    """What the indexes hold, which embedding model made the vectors, and what is missing.

    Also how far each machine's indexes (word index, vector graph, recommendation features)
    are behind the database, from the positions each machine records when it runs `index
    update` or `index publish`, and how old the newest published snapshot is.

    Example: paperfeed index status
    """
    semantic = ctx.semantic()
    with ctx.engine().connect() as conn:
        papers = store.count_papers(conn)
        words = lexical.count_indexed(conn)
        per_model = vectors.count_vectors(conn)
        recorded = vectors.recorded_model(conn)
    embedder = semantic.embedder
    word_index = ctx.words()
    fast: dict[str, object] | None = None
    if word_index is not None:
        version, applied, behind = word_index.lag()
        fast = {
            "folder": str(word_index.folder),
            "indexed": word_index.count(),
            "journal_version": version,
            "applied_version": applied,
            "behind": behind,
        }
    data = {
        "papers": papers,
        "lexical_indexed": words,
        "lexical_engine": "tantivy" if word_index is not None else "database",
        "tantivy": fast,
        "embedder_setting": ctx.settings.embedder,
        "embedder_model": embedder.name,
        "embedder_dim": embedder.dim,
        "recorded_model": {"name": recorded[0], "dim": recorded[1]} if recorded else None,
        "vectors": per_model,
        "missing_vectors": papers - per_model.get(embedder.name, 0),
        "mismatch": semantic.mismatch(),
        "vector_search": semantic.search_method(papers),
    }
    from paperfeed.cli.machines import machines_status, print_machines

    joined = machines_status(ctx)
    data |= {"machines": joined["machines"], "snapshot": joined["snapshot"]}
    if as_json:
        echo_json(data)
        return
    click.echo(f"papers: {papers:,}; in the word index: {words:,}")
    if fast is not None:
        state = (
            "never built"
            if fast["applied_version"] is None
            else "in step"
            if fast["behind"] == 0
            else "needs a rebuild"
            if fast["behind"] is None
            else f"{fast['behind']:,} papers behind"
        )
        indexed = fast["indexed"]
        shown = f"{indexed:,}" if isinstance(indexed, int) else "none"
        click.echo(f"tantivy word index: {shown} papers, {state} ({fast['folder']})")
    click.echo(f"embedder: {ctx.settings.embedder} = {embedder.name} ({embedder.dim} dimensions)")
    for model, n in per_model.items():
        click.echo(f"vectors by {model}: {n:,}")
    click.echo(f"missing vectors: {data['missing_vectors']:,}; search: {data['vector_search']}")
    if data["mismatch"]:
        click.echo(f"MISMATCH: {data['mismatch']}")
    print_machines(joined)


def _embed_with_bar(ctx: Context, ids: list[int]) -> int:
    semantic = ctx.semantic()
    if not sys.stderr.isatty():
        return semantic.embed_papers(ids)
    from tqdm import tqdm

    with tqdm(total=len(ids), desc="embedding", unit=" papers", file=sys.stderr) as bar:

        def advance(done: int) -> None:
            bar.update(done - bar.n)

        return semantic.embed_papers(ids, advance)


@index_group.command("update")
@pass_context
@edge
def index_update(ctx: Context) -> None:
    """Embed the papers that have no vector yet (after `ingest --no-embed`, say), and bring
    the word index and the recommendation features of this machine in step. Run it on a new
    machine before it takes traffic: it first restores the newest published snapshot of the
    index files (`index publish`) where this machine's are missing or far behind, then
    replays the changes made since.

    Example: paperfeed index update
    """
    from paperfeed.cli.machines import finish_update, graph_step, join_step

    join_step(ctx)
    semantic = ctx.semantic()
    with ctx.engine().connect() as conn:
        missing = vectors.missing_ids(conn, semantic.embedder.name)
    done = _embed_with_bar(ctx, missing)
    click.echo(f"embedded {done:,} papers with {semantic.embedder.name}")
    _report_words(ctx)
    _report_recommendations(ctx)
    graph_step(ctx)
    finish_update(ctx)


def _report_recommendations(ctx: Context) -> None:
    """Bring the recommendation features in the index folder in step, so that the serve
    workers map them instead of making them."""
    kept = ctx.refresh_recommendations(only_kept=False)
    if kept is not None:
        state = "brought up to date" if kept[1] else "already in step"
        click.echo(f"recommendation features: {kept[0]:,} papers, {state}")


def _report_words(ctx: Context) -> None:
    words = ctx.refresh_words(reconcile=True)
    if words is not None:
        click.echo(f"word index (tantivy): {words:,} papers indexed")
    elif ctx.words() is not None:
        click.echo("word index (tantivy): another process is writing it; try again later")


def _add_machine_commands() -> None:
    from paperfeed.cli.machines import index_forget, index_publish

    index_group.add_command(index_publish)
    index_group.add_command(index_forget)


_add_machine_commands()


@index_group.command("rebuild")
@click.option(
    "--model",
    type=click.Choice(sorted(EMBEDDERS)),
    default=None,
    help="Embedder to rebuild with (default PAPERFEED_EMBEDDER; set the setting to keep it).",
)
@pass_context
@edge
def index_rebuild(ctx: Context, model: str | None) -> None:
    """Rebuild the word index and re-embed every paper from scratch.

    Example: paperfeed index rebuild --model static
    """
    if model is not None and model != ctx.settings.embedder:
        ctx.settings = ctx.settings.model_copy(update={"embedder": model})
        ctx._semantic = None
    with writing(ctx.engine()) as conn:
        words = lexical.rebuild(conn)
        ids = store.all_ids(conn)
    ctx.semantic().reset()
    click.echo(f"word index rebuilt: {words:,} papers")
    _report_words(ctx)
    done = _embed_with_bar(ctx, ids)
    click.echo(f"embedded {done:,} papers with {ctx.semantic().embedder.name}")
    if model is not None:
        click.echo(f"set PAPERFEED_EMBEDDER={model} so search uses these vectors")


@click.group("eval")
def eval_group() -> None:
    """Measure search quality on judged data."""


@eval_group.command("retrieval")
@click.option(
    "--corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option(
    "--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option(
    "--qrels", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option("--mode", type=click.Choice([*MODES, "all"]), default="all", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@edge
def eval_retrieval(
    ctx: Context, corpus: Path, queries: Path, qrels: Path, mode: str, as_json: bool
) -> None:
    """Index a BEIR-layout corpus into a throw-away store and score each search mode
    (nDCG@10, Recall@100, MRR@10) on its judged queries.

    Example: paperfeed eval retrieval --corpus corpus.jsonl --queries queries.jsonl --qrels test.tsv
    """
    data = load_beir(corpus, queries, qrels)
    modes = list(MODES) if mode == "all" else [mode]
    results = evaluate(data, embedder=ctx.settings.embedder, modes=modes)
    if as_json:
        echo_json(results)
        return
    click.echo(f"{len(data.corpus):,} documents, {len(data.qrels):,} judged queries")
    click.echo(f"{'mode':<10} {'nDCG@10':>8} {'Recall@100':>11} {'MRR@10':>8}")
    for name, scores in results.items():
        click.echo(
            f"{name:<10} {scores['ndcg@10']:>8.4f} {scores['recall@100']:>11.4f} "
            f"{scores['mrr@10']:>8.4f}"
        )
