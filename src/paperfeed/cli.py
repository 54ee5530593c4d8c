"""The command line: one thin command per pipeline stage, each a few lines over a library call.

Errors from the library become one line on stderr and an exit code (see
``paperfeed.errors``); ``--json`` prints data for scripts.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import Engine

from paperfeed import __version__
from paperfeed.config import Settings, load_settings
from paperfeed.errors import InvalidInputError, PaperfeedError
from paperfeed.ingest import jobs
from paperfeed.ingest.pipeline import IngestOptions, ingest
from paperfeed.ingest.source import Source
from paperfeed.models import IngestReport
from paperfeed.rank.daily import daily_list, parse_day
from paperfeed.store import papers as store
from paperfeed.store import stats as store_stats
from paperfeed.store.engine import make_engine
from paperfeed.store.migrate import ensure_migrated, migrate

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What every command gets: the settings, and the engine when it needs one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None

    def engine(self, *, migrated: bool = True) -> Engine:
        if self._engine is None:
            self._engine = make_engine(
                self.settings.database_url, busy_timeout_ms=self.settings.sqlite_busy_timeout_ms
            )
            if migrated:
                ensure_migrated(self._engine)
        return self._engine


def _edge(func: F) -> F:
    """Translate paperfeed errors into one line on stderr and their exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PaperfeedError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML file of settings (also PAPERFEED_CONFIG).",
)
@click.version_option(__version__, prog_name="paperfeed")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None) -> None:
    """paperfeed: a self-hostable daily-papers hub.

    Settings come from PAPERFEED_* environment variables and an optional TOML
    file; see docs/settings.md.
    """
    try:
        settings = load_settings(config_file)
    except PaperfeedError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    ctx.obj = Context(settings)


pass_context = click.make_pass_decorator(Context)


@cli.command("init")
@click.option("--sample/--no-sample", default=True, help="Load the sample papers if empty.")
@pass_context
@_edge
def init_cmd(ctx: Context, sample: bool) -> None:
    """Create and migrate the database, and load the sample papers into an empty one.

    Example: paperfeed init
    """
    engine = ctx.engine(migrated=False)
    _, after = migrate(engine)
    click.echo(f"database {ctx.settings.database_url} at migration {after}")
    if sample:
        _run_ingest(ctx, jobs.sample_source(ctx.settings), as_json=False, if_empty=True)


@cli.command("migrate")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_context
@_edge
def migrate_cmd(ctx: Context, revision: str) -> None:
    """Apply database migrations (creating the database if needed).

    Example: paperfeed migrate
    """
    before, after = migrate(ctx.engine(migrated=False), revision)
    if before == after:
        click.echo(f"database already at migration {after}")
    else:
        click.echo(f"migrated database from {before or 'empty'} to {after}")


@cli.group("ingest")
def ingest_group() -> None:
    """Fetch papers from a source and store them (dedup, versions, a report at the end)."""


def _run_ingest(
    ctx: Context,
    source: Source,
    *,
    as_json: bool,
    restart: bool = False,
    if_empty: bool = False,
) -> None:
    engine = ctx.engine()
    if if_empty:
        with engine.connect() as conn:
            if store.count_papers(conn) > 0:
                click.echo("the database already holds papers; nothing loaded")
                return
    bar = _progress_bar(source.name)
    try:
        report = ingest(
            engine,
            source,
            clock=ctx.settings.clock(),
            options=IngestOptions(
                batch_size=ctx.settings.ingest_batch_size, limits=jobs.limits(ctx.settings)
            ),
            progress=bar.update if bar else None,
            restart=restart,
        )
    finally:
        if bar:
            bar.close()
    _print_report(report, as_json)
    if not report.completed:
        sys.exit(5)


class _Bar:
    """A tqdm bar on a terminal; nothing elsewhere."""

    def __init__(self, name: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(desc=name, unit=" records", file=sys.stderr, dynamic_ncols=True)
        self._done = 0

    def update(self, done: int, total: int | None) -> None:
        if total is not None and self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        self._bar.close()


def _progress_bar(name: str) -> _Bar | None:
    return _Bar(name) if sys.stderr.isatty() else None


def _print_report(report: IngestReport, as_json: bool) -> None:
    if as_json:
        _echo_json(report.as_dict())
        return
    click.echo(report.summary())
    if report.resumed_from:
        click.echo(f"  resumed from checkpoint {report.resumed_from}")
    for line in report.merges:
        click.echo(f"  merged {line}")
    for rejection in report.rejections:
        click.echo(f"  rejected {rejection}")
    hidden = report.rejected - len(report.rejections)
    if hidden > 0:
        click.echo(f"  ... and {hidden:,} more rejections (use --json for the kept ones)")


_json_option = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
_restart_option = click.option(
    "--restart", is_flag=True, help="Ignore a saved checkpoint and start the job from the top."
)


@ingest_group.command("arxiv")
@click.option("--category", "-c", "categories", multiple=True, required=True, help="e.g. cs.LG")
@click.option("--since", required=True, help="First submission day, YYYY-MM-DD.")
@click.option("--until", default=None, help="Last submission day, YYYY-MM-DD (default today).")
@_restart_option
@_json_option
@pass_context
@_edge
def ingest_arxiv(
    ctx: Context,
    categories: tuple[str, ...],
    since: str,
    until: str | None,
    restart: bool,
    as_json: bool,
) -> None:
    """From the arXiv API: papers of categories submitted in a date window.

    Example: paperfeed ingest arxiv --category cs.LG --since 2026-11-01
    """
    first = parse_day(since, "--since")
    assert first is not None
    source = jobs.arxiv_api_source(ctx.settings, categories, first, parse_day(until, "--until"))
    _run_ingest(ctx, source, as_json=as_json, restart=restart)


@ingest_group.command("oai")
@click.option("--set", "set_spec", required=True, help="OAI set, e.g. cs or physics:hep-th.")
@click.option("--from", "from_day", default=None, help="First datestamp, YYYY-MM-DD.")
@click.option("--until", default=None, help="Last datestamp, YYYY-MM-DD.")
@click.option(
    "--format",
    "metadata_prefix",
    type=click.Choice(["arXivRaw", "arXiv"]),
    default="arXivRaw",
    show_default=True,
    help="arXivRaw carries the version history.",
)
@_restart_option
@_json_option
@pass_context
@_edge
def ingest_oai(
    ctx: Context,
    set_spec: str,
    from_day: str | None,
    until: str | None,
    metadata_prefix: str,
    restart: bool,
    as_json: bool,
) -> None:
    """From arXiv's OAI-PMH ListRecords (bulk harvesting), resumable.

    Example: paperfeed ingest oai --set cs --from 2026-11-01
    """
    source = jobs.oai_source(
        ctx.settings,
        set_spec,
        parse_day(from_day, "--from"),
        parse_day(until, "--until"),
        metadata_prefix,
    )
    _run_ingest(ctx, source, as_json=as_json, restart=restart)


@ingest_group.command("rss")
@click.argument("categories")
@click.option(
    "--feature/--no-feature",
    default=True,
    show_default=True,
    help="Feature new and cross-listed papers on the announcement day's list.",
)
@_json_option
@pass_context
@_edge
def ingest_rss(ctx: Context, categories: str, feature: bool, as_json: bool) -> None:
    """From arXiv's RSS/Atom listing: today's announcements (new, cross, replace).

    Example: paperfeed ingest rss cs.LG+cs.CV
    """
    _run_ingest(ctx, jobs.rss_source(ctx.settings, categories, feature), as_json=as_json)


@ingest_group.command("snapshot")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_restart_option
@_json_option
@pass_context
@_edge
def ingest_snapshot(ctx: Context, file: Path, restart: bool, as_json: bool) -> None:
    """From arXiv's bulk metadata snapshot (JSON lines, plain or gzip), streamed and resumable.

    Example: paperfeed ingest snapshot arxiv-metadata-oai-snapshot.json.gz
    """
    _run_ingest(ctx, jobs.snapshot_source(file), as_json=as_json, restart=restart)


@ingest_group.command("hf-daily")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--date", "day", default=None, help="Fetch this day's list from the live API.")
@_json_option
@pass_context
@_edge
def ingest_hf_daily(ctx: Context, file: Path | None, day: str | None, as_json: bool) -> None:
    """From Hugging Face daily papers: a saved /api/daily_papers JSON file, or --date D live.

    Example: paperfeed ingest hf-daily --date 2026-11-20
    """
    if (file is None) == (day is None):
        raise InvalidInputError("give either a FILE or --date YYYY-MM-DD")
    source = jobs.hf_daily_source(ctx.settings, file, parse_day(day, "--date"))
    _run_ingest(ctx, source, as_json=as_json)


@ingest_group.command("sample")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database holds papers.")
@_json_option
@pass_context
@_edge
def ingest_sample(ctx: Context, if_empty: bool, as_json: bool) -> None:
    """The bundled sample papers, featured over the last PAPERFEED_SAMPLE_DAYS days.

    Example: paperfeed ingest sample --if-empty
    """
    _run_ingest(ctx, jobs.sample_source(ctx.settings), as_json=as_json, if_empty=if_empty)


@cli.group("papers")
def papers_group() -> None:
    """List stored papers."""


@papers_group.command("list")
@click.option("--date", "day", default=None, help="Featured day, YYYY-MM-DD (default latest).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@_edge
def papers_list(ctx: Context, day: str | None, limit: int, as_json: bool) -> None:
    """The papers featured on a day, most upvoted first.

    Example: paperfeed papers list --date 2026-11-20 --json
    """
    listed = daily_list(ctx.engine(), parse_day(day, "--date"), limit=limit)
    if as_json:
        data = [s.as_dict() for s in listed.papers]
        _echo_json({"date": listed.day, "data": data, "count": len(data)})
        return
    if listed.day is None:
        click.echo("no featured papers yet: try `paperfeed ingest sample`")
        return
    click.echo(f"Daily papers of {listed.day.isoformat()} ({len(listed.papers)})")
    for s in listed.papers:
        click.echo(f"{s.paper.upvotes or 0:>5}  {s.paper.arxiv_id or '-':<16}  {s.paper.title}")


@cli.group("paper")
def paper_group() -> None:
    """One stored paper."""


@paper_group.command("show")
@click.argument("arxiv_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@_edge
def paper_show(ctx: Context, arxiv_id: str, as_json: bool) -> None:
    """Show a paper by arXiv id (any version suffix is ignored).

    Example: paperfeed paper show 2606.00467
    """
    from paperfeed.errors import NotFoundError
    from paperfeed.models import split_arxiv_id

    try:
        base, _ = split_arxiv_id(arxiv_id)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    with ctx.engine().connect() as conn:
        stored = store.get_by_arxiv_id(conn, base)
    if stored is None:
        raise NotFoundError(f"no paper {base} in the database")
    if as_json:
        _echo_json(stored.as_dict())
        return
    p = stored.paper
    click.echo(f"{p.title}\n")
    click.echo(f"arXiv:{p.arxiv_id}v{p.version}" if p.version else f"arXiv:{p.arxiv_id}")
    click.echo("Authors: " + ", ".join(p.authors))
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
        ("Project", p.project_url),
        ("Featured on", p.featured_on),
    ):
        if value:
            click.echo(f"{label}: {value}")
    click.echo(f"\n{p.abstract}")


@cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@_edge
def stats_cmd(ctx: Context, as_json: bool) -> None:
    """Counts of papers, featured days, sources and the last ingestion runs.

    Example: paperfeed stats --json
    """
    with ctx.engine().connect() as conn:
        data = store_stats.collect(conn)
    if as_json:
        _echo_json(data)
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


@cli.command("serve")
@click.option("--host", default=None, help="Address to listen on (default PAPERFEED_HOST).")
@click.option("--port", default=None, type=int, help="Port (default PAPERFEED_PORT).")
@pass_context
@_edge
def serve_cmd(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the web app (checks that the database is migrated first).

    Example: paperfeed serve --port 8000
    """
    import uvicorn

    from paperfeed.deliver.app import create_app

    ctx.engine()  # fail early, with a clear message, on an unmigrated database
    app = create_app(ctx.settings)
    host = host or ctx.settings.host
    port = port or ctx.settings.port
    click.echo(
        f"paperfeed serving {ctx.settings.database_url} on http://{host}:{port} (Ctrl+C stops)"
    )
    uvicorn.run(app, host=host, port=port, log_level=ctx.settings.log_level.lower())


def main() -> None:
    cli(prog_name="paperfeed")
