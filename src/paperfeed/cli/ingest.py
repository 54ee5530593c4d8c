"""`paperfeed ingest …`: fetch papers from a source and store them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paperfeed.cli.base import Context, echo_json, edge, pass_context
from paperfeed.cli.progress import Progress
from paperfeed.errors import InvalidInputError
from paperfeed.ingest import jobs
from paperfeed.ingest.pipeline import IngestOptions, ingest
from paperfeed.ingest.source import Source
from paperfeed.models import IngestReport
from paperfeed.rank.daily import parse_day
from paperfeed.store import ingest_state
from paperfeed.store import papers as store


@click.group("ingest")
def ingest_group() -> None:
    """Fetch papers from a source and store them (dedup, versions, a report at the end)."""


def run_ingest(
    ctx: Context,
    source: Source,
    *,
    as_json: bool,
    restart: bool = False,
    if_empty: bool = False,
    embed: bool | None = None,
) -> None:
    engine = ctx.engine()
    if if_empty:
        with engine.connect() as conn:
            if store.count_papers(conn) > 0:
                click.echo("the database already holds papers; nothing loaded")
                return
    bar = Progress(source.name, "records")
    embedding = _Embedding(ctx) if _embeds(ctx, embed) else None
    try:
        report = ingest(
            engine,
            source,
            clock=ctx.settings.clock(),
            options=IngestOptions(
                batch_size=ctx.settings.ingest_batch_size, limits=jobs.limits(ctx.settings)
            ),
            progress=bar.update,
            restart=restart,
            after_batch=embedding.after_batch if embedding else None,
        )
    finally:
        bar.close()
    if embedding is not None:
        # What an earlier run that was killed after a commit left without vectors.
        embedding.catch_up()
        embedding.close()
    ctx.refresh_words()
    ctx.refresh_recommendations(only_kept=True)  # the workers then map them, not make them
    _print_report(report, as_json)
    if not report.completed:
        _say_how_to_resume(ctx, source)
        sys.exit(5)


def _say_how_to_resume(ctx: Context, source: Source) -> None:
    key = source.checkpoint_key
    if key is None:
        click.echo("what was fetched is stored; rerun the command to try again", err=True)
        return
    with ctx.engine().connect() as conn:
        cursor = ingest_state.read_checkpoint(conn, key)
    where = f" (checkpoint {cursor})" if cursor else ""
    click.echo(
        f"what was fetched is stored{where}: rerun the same command to resume from there",
        err=True,
    )


def _embeds(ctx: Context, embed: bool | None) -> bool:
    """Embed ingested papers unless turned off (then `index update` does it)."""
    return ctx.settings.embed_on_ingest if embed is None else embed


class _Embedding:
    """Embeds each committed batch as the run goes, then whatever has no vector yet."""

    def __init__(self, ctx: Context) -> None:
        self._semantic = ctx.semantic()
        self._bar = Progress("embedding", "papers")
        self._embedded = 0
        self._total = 0

    def after_batch(self, ids: list[int]) -> None:
        self._embed(ids)

    def catch_up(self) -> None:
        from paperfeed.index.vectors import in_memory as vectors

        with self._semantic.engine.connect() as conn:
            missing = vectors.missing_ids(conn, self._semantic.embedder.name)
        if missing:
            self._embed(missing)

    def _embed(self, ids: list[int]) -> None:
        start = self._embedded
        self._total += len(ids)

        def advance(done: int) -> None:
            self._bar.update(start + done, self._total)

        self._semantic.embed_papers(ids, advance)
        self._embedded += len(ids)
        self._bar.update(self._embedded, self._total)

    def close(self) -> None:
        self._bar.close()


def _print_report(report: IngestReport, as_json: bool) -> None:
    if as_json:
        echo_json(report.as_dict())
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
_embed_option = click.option(
    "--embed/--no-embed",
    default=None,
    help="Embed papers for search by meaning as they arrive, then any paper still without a "
    "vector, as one an interrupted run left (default PAPERFEED_EMBED_ON_INGEST).",
)
_restart_option = click.option(
    "--restart", is_flag=True, help="Ignore a saved checkpoint and start the job from the top."
)


@ingest_group.command("arxiv")
@click.option("--category", "-c", "categories", multiple=True, required=True, help="e.g. cs.LG")
@click.option("--since", required=True, help="First submission day, YYYY-MM-DD.")
@click.option("--until", default=None, help="Last submission day, YYYY-MM-DD (default today).")
@_restart_option
@_json_option
@_embed_option
@pass_context
@edge
def ingest_arxiv(
    ctx: Context,
    categories: tuple[str, ...],
    since: str,
    until: str | None,
    restart: bool,
    as_json: bool,
    embed: bool | None,
) -> None:
    """From the arXiv API: papers of categories submitted in a date window.

    Example: paperfeed ingest arxiv --category cs.LG --since 2026-11-01
    """
    first = parse_day(since, "--since")
    assert first is not None
    source = jobs.arxiv_api_source(ctx.settings, categories, first, parse_day(until, "--until"))
    run_ingest(ctx, source, as_json=as_json, restart=restart, embed=embed)


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
@_embed_option
@pass_context
@edge
def ingest_oai(
    ctx: Context,
    set_spec: str,
    from_day: str | None,
    until: str | None,
    metadata_prefix: str,
    restart: bool,
    as_json: bool,
    embed: bool | None,
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
    run_ingest(ctx, source, as_json=as_json, restart=restart, embed=embed)


@ingest_group.command("rss")
@click.argument("categories")
@click.option(
    "--feature/--no-feature",
    default=True,
    show_default=True,
    help="Feature new and cross-listed papers on the announcement day's list.",
)
@_json_option
@_embed_option
@pass_context
@edge
def ingest_rss(
    ctx: Context, categories: str, feature: bool, as_json: bool, embed: bool | None
) -> None:
    """From arXiv's RSS/Atom listing: today's announcements (new, cross, replace).

    Example: paperfeed ingest rss cs.LG+cs.CV
    """
    run_ingest(
        ctx, jobs.rss_source(ctx.settings, categories, feature), as_json=as_json, embed=embed
    )


@ingest_group.command("snapshot")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_restart_option
@_json_option
@_embed_option
@pass_context
@edge
def ingest_snapshot(
    ctx: Context, file: Path, restart: bool, as_json: bool, embed: bool | None
) -> None:
    """From arXiv's bulk metadata snapshot (JSON lines, plain or gzip), streamed and resumable.

    Example: paperfeed ingest snapshot arxiv-metadata-oai-snapshot.json.gz
    """
    run_ingest(ctx, jobs.snapshot_source(file), as_json=as_json, restart=restart, embed=embed)


@ingest_group.command("hf-daily")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--date", "day", default=None, help="Fetch this day's list from the live API.")
@_json_option
@_embed_option
@pass_context
@edge
def ingest_hf_daily(
    ctx: Context, file: Path | None, day: str | None, as_json: bool, embed: bool | None
) -> None:
    """From Hugging Face daily papers: a saved JSON file or archive, or --date D live.

    FILE is an /api/daily_papers answer (a JSON array) or an archive of many days, one item a
    line (JSON lines, plain or gzip). Each paper is featured on the day HF listed it.

    Example: paperfeed ingest hf-daily --date 2026-08-21
    """
    if (file is None) == (day is None):
        raise InvalidInputError("give either a FILE or --date YYYY-MM-DD")
    source = jobs.hf_daily_source(ctx.settings, file, parse_day(day, "--date"))
    run_ingest(ctx, source, as_json=as_json, embed=embed)


@ingest_group.command("sample")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database holds papers.")
@click.option(
    "--seed-pages",
    is_flag=True,
    help="Load only the 660 seed-page papers (title and abstract, featured over the last "
    "PAPERFEED_SAMPLE_DAYS days), which search quality is measured against.",
)
@_json_option
@_embed_option
@pass_context
@edge
def ingest_sample(
    ctx: Context, if_empty: bool, seed_pages: bool, as_json: bool, embed: bool | None
) -> None:
    """The bundled demo: real Hugging Face daily lists of June to August 2026 (1,371 papers).

    Example: paperfeed ingest sample --if-empty
    """
    source = jobs.sample_source(ctx.settings, seed_pages=seed_pages)
    run_ingest(ctx, source, as_json=as_json, if_empty=if_empty, embed=embed)
