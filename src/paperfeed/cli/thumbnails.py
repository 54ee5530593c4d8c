"""``paperfeed thumbnails fetch``: make the papers' first-page thumbnails (#18)."""

from __future__ import annotations

import sys

import click

from paperfeed.cli.base import Context, echo_json, edge, pass_context

#: Exit status of a run that a remote source stopped (what was made is kept).
STOPPED_EXIT = 5


@click.group("thumbnails")
def thumbnails_group() -> None:
    """Thumbnails of the papers' first pages, shown on the cards."""


@thumbnails_group.command("fetch")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Papers to try at most [default: PAPERFEED_THUMBNAILS_PER_RUN].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
@edge
def fetch_cmd(ctx: Context, limit: int | None, as_json: bool) -> None:
    """Make thumbnails for the newest papers that have none: Hugging Face's image where one
    was imported, else the first page of the arXiv PDF (one request every
    PAPERFEED_ARXIV_DELAY_SECONDS, the contact PAPERFEED_THUMBNAILS_CONTACT in the
    User-Agent; the PDF is read in memory and not kept). A paper whose image cannot be
    made is tried again after 1, 2, 4 ... days. Exits 5 when arXiv stopped answering.

    Example: paperfeed thumbnails fetch --limit 20
    """
    from paperfeed.ingest.thumbnails import thumbnail_job

    job = thumbnail_job(ctx.settings, ctx.engine())
    try:
        report = job.run(limit or ctx.settings.thumbnails_per_run)
    finally:
        job.arxiv.close()
        job.images.close()
    if as_json:
        echo_json(
            {
                "made": report.made,
                "failed": report.failed,
                "stopped": report.stopped,
                "errors": report.errors,
            }
        )
    else:
        click.echo(report.summary())
        for line in report.errors[:20]:
            click.echo(f"  {line}")
    if report.stopped:
        sys.exit(STOPPED_EXIT)
