"""Commands over the store: init, migrate, papers list, paper show, stats, serve."""

from __future__ import annotations

import click

from paperfeed.cli.base import Context, echo_json, edge, pass_context

# Each command imports what it runs inside its function: `paperfeed stats` needs no
# ingestion code, `paperfeed serve` no alembic beyond the migration check.


@click.command("init")
@click.option("--sample/--no-sample", default=True, help="Load the sample papers if empty.")
@pass_context
@edge
def init_cmd(ctx: Context, sample: bool) -> None:
    """Create and migrate the database, and load the sample papers into an empty one.

    Example: paperfeed init
    """
    from paperfeed.cli.ingest import run_ingest
    from paperfeed.ingest import jobs
    from paperfeed.store.migrate import migrate

    engine = ctx.engine(migrated=False)
    _, after = migrate(engine)
    click.echo(f"database {ctx.settings.database_url} at migration {after}")
    if sample:
        run_ingest(ctx, jobs.sample_source(ctx.settings), as_json=False, if_empty=True)


@click.command("migrate")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_context
@edge
def migrate_cmd(ctx: Context, revision: str) -> None:
    """Apply database migrations (creating the database if needed).

    Example: paperfeed migrate
    """
    from paperfeed.store.migrate import migrate

    before, after = migrate(ctx.engine(migrated=False), revision)
    if before == after:
        click.echo(f"database already at migration {after}")
    else:
        click.echo(f"migrated database from {before or 'empty'} to {after}")


@click.group("papers")
def papers_group() -> None:
    """List stored papers."""


@papers_group.command("list")
@click.option("--date", "day", default=None, help="Featured day, YYYY-MM-DD (default latest).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@edge
def papers_list(ctx: Context, day: str | None, limit: int, as_json: bool) -> None:
    """The papers featured on a day, most upvoted first.

    Example: paperfeed papers list --date 2026-11-20 --json
    """
    from paperfeed.rank.daily import daily_list, parse_day

    listed = daily_list(ctx.engine(), parse_day(day, "--date"), limit=limit)
    if as_json:
        data = [s.as_dict() for s in listed.papers]
        echo_json({"date": listed.day, "data": data, "count": len(data)})
        return
    if listed.day is None:
        click.echo("no featured papers yet: try `paperfeed ingest sample`")
        return
    click.echo(f"Daily papers of {listed.day.isoformat()} ({len(listed.papers)})")
    for s in listed.papers:
        click.echo(f"{s.paper.upvotes or 0:>5}  {s.paper.arxiv_id or '-':<16}  {s.paper.title}")


@click.group("paper")
def paper_group() -> None:
    """One stored paper."""


@paper_group.command("show")
@click.argument("arxiv_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@edge
def paper_show(ctx: Context, arxiv_id: str, as_json: bool) -> None:
    """Show a paper by arXiv id (any version suffix is ignored).

    Example: paperfeed paper show 2606.00467
    """
    stored = ctx.paper(arxiv_id)
    if as_json:
        echo_json(stored.as_dict())
        return
    p = stored.paper
    click.echo(f"{p.title}\n")
    click.echo(f"arXiv:{p.arxiv_id}v{p.version}" if p.version else f"arXiv:{p.arxiv_id}")
    click.echo("Authors: " + ", ".join(p.authors))
    if p.categories:
        click.echo("Categories: " + " ".join(p.categories))
    if p.published_at:
        click.echo(f"Published: {p.published_at.isoformat()}")
    for v in p.versions:
        when = v.submitted_at.isoformat() if v.submitted_at else "?"
        click.echo(f"  v{v.number}  {when}" + (f"  {v.size}" if v.size else ""))
    for label, value in (
        ("DOI", p.doi),
        ("Journal", p.journal_ref),
        ("Comments", p.comments),
        ("Abstract page", p.abs_url),
        ("PDF", p.pdf_url),
        ("Code", p.code_url),
        ("GitHub stars", p.github_stars),
        ("Project", p.project_url),
        ("Organization", p.organization_fullname or p.organization),
        ("Submitted by", p.submitted_by),
        ("Keywords", ", ".join(p.keywords)),
        ("Featured on", p.featured_on),
    ):
        if value:
            click.echo(f"{label}: {value}")
    if p.ai_summary:
        click.echo(f"\nSummary (written by a language model, from Hugging Face): {p.ai_summary}")
    click.echo(f"\n{p.abstract}")


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@edge
def stats_cmd(ctx: Context, as_json: bool) -> None:
    """Counts of papers, featured days, sources and the last ingestion runs.

    Example: paperfeed stats --json
    """
    from paperfeed.store import stats as store_stats

    with ctx.engine().connect() as conn:
        data = store_stats.collect(conn)
    if as_json:
        echo_json(data)
        return
    click.echo(f"papers: {data['papers']:,} ({data['papers_with_arxiv_id']:,} with an arXiv id)")
    click.echo(
        f"featured: {data['featured_papers']:,} papers on {data['featured_days']:,} days "
        f"({data['first_featured_day']} .. {data['last_featured_day']})"
    )
    click.echo(f"authors: {data['distinct_authors']:,}")
    for source, n in data["by_source"].items():
        click.echo(f"  from {source}: {n:,}")
    for run in data["last_runs"]:
        state = "completed" if run["completed"] else "INTERRUPTED"
        click.echo(f"last {run['source']} run: {run['finished_at']} {state} {run['summary']}")
    for job in data["interrupted_jobs"]:
        click.echo(f"interrupted job {job['key']} at {job['cursor']}: rerun to resume")


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default PAPERFEED_HOST).")
@click.option("--port", default=None, type=int, help="Port (default PAPERFEED_PORT).")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="Worker processes, each with a listening socket of its own (SO_REUSEPORT, Linux); "
    "default PAPERFEED_WORKERS.",
)
@pass_context
@edge
def serve_cmd(ctx: Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the web app (checks that the database is migrated first).

    With --workers N, N processes serve the same port: the kernel spreads connections
    over them, and a worker that dies is restarted. One per CPU core is a good start.
    With a snapshot store set (PAPERFEED_INDEX_SNAPSHOT_DIR), index files this machine
    lacks are first restored from the newest published snapshot.

    Example: paperfeed serve --port 8000 --workers 2
    """
    from paperfeed.deliver.serving import serve

    ctx.engine()  # fail early, with a clear message, on an unmigrated database
    if ctx.settings.index_snapshot_dir or ctx.settings.index_snapshot_database:
        from paperfeed.cli.machines import join_step

        # A machine joining the hub: index files from the newest snapshot (a copy, seconds),
        # the journal replayed by the workers in the background (docs/deploy.md).
        join_step(ctx, serving=True)
    host = host or ctx.settings.host
    port = port or ctx.settings.port
    workers = workers or ctx.settings.workers
    plural = "s" if workers > 1 else ""
    click.echo(
        f"paperfeed serving {ctx.settings.database_url} on http://{host}:{port} "
        f"with {workers} worker{plural} (Ctrl+C stops)"
    )
    status = serve(ctx.settings, host=host, port=port, workers=workers)
    if status:
        raise SystemExit(status)
