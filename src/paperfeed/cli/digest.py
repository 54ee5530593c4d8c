"""``paperfeed digest preview|send`` and ``paperfeed schedule``."""

from __future__ import annotations

import logging
import re
import shlex
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paperfeed.cli.base import Context, echo_json, edge, pass_context
from paperfeed.errors import PaperfeedError, SourceError

if TYPE_CHECKING:  # composing a digest reaches the recommender (scikit-learn): at run time
    from paperfeed.deliver.digests.send import SendReport
    from paperfeed.deliver.scheduler import Job

#: Exit status of a send that left digests unsent (the SMTP server was down): EX_TEMPFAIL.
UNSENT_EXIT = 75


def _day(ctx: Context, value: str | None) -> date:
    from paperfeed.rank.daily import parse_day

    chosen = parse_day(value, "--date")
    return chosen or ctx.settings.clock().now().astimezone(ctx.settings.zone).date()


def _sender(ctx: Context):  # type: ignore[no-untyped-def]
    from paperfeed.deliver.digests.send import sender_from_settings

    return sender_from_settings(ctx.settings, ctx.engine(), ctx.settings.clock(), words=ctx.words())


@click.group("digest")
def digest_group() -> None:
    """E-mail digests: preview one, send an edition."""


@digest_group.command("preview")
@click.option("--email", required=True, help="Whose digest (any address: a stand-in if unknown).")
@click.option("--date", "day", metavar="YYYY-MM-DD", help="The edition's day (default today).")
@click.option(
    "--frequency", type=click.Choice(["daily", "weekly"]), default="daily", show_default=True
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder for the .eml and .html files.",
)
@pass_context
@edge
def digest_preview(ctx: Context, email: str, day: str | None, frequency: str, out: Path) -> None:
    """Write the digest an address would get as a .eml file (the whole message) and an
    .html file (its HTML part, to open in a browser). Sends and records nothing.

    Example: paperfeed digest preview --email ada@example.org --date 2026-11-23 --out previews
    """
    from paperfeed.rank.editions import Edition

    edition = Edition("weekly" if frequency == "weekly" else "daily", _day(ctx, day))
    message = _sender(ctx).preview(email, edition)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"digest-{edition.key.replace(':', '-')}-" + re.sub(r"[^\w.@-]", "_", email)[:80]
    eml, html = out / f"{stem}.eml", out / f"{stem}.html"
    eml.write_bytes(bytes(message))
    part = message.get_body(("html",))
    html.write_text(part.get_content() if part is not None else "", encoding="utf-8")
    click.echo(f"{message['Subject']}\n{eml}\n{html}")


@digest_group.command("send")
@click.option("--date", "day", metavar="YYYY-MM-DD", help="The editions' day (default today).")
@click.option("--dry-run", is_flag=True, help="Compose every digest; record and send nothing.")
@click.option(
    "--resend-uncertain",
    is_flag=True,
    help="Also resend deliveries a crashed sender may or may not have handed over.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@pass_context
@edge
def digest_send(
    ctx: Context, day: str | None, dry_run: bool, resend_uncertain: bool, as_json: bool
) -> None:
    """Send the editions that go out on a day (daily on PAPERFEED_DIGEST_DAYS, weekly on
    PAPERFEED_DIGEST_WEEKLY_DAY) to every confirmed subscriber, each exactly once: run it
    again after a crash or an SMTP outage and it sends only what is unsent. Exits 75 when
    the SMTP server stopped the run with digests left unsent.

    Example: paperfeed digest send --date 2026-11-23 --dry-run
    """
    from paperfeed.deliver.digests.send import summary
    from paperfeed.rank.editions import schedule_of

    chosen = _day(ctx, day)
    editions = schedule_of(ctx.settings).editions_on(chosen)
    if not editions:
        click.echo(f"no digest goes out on {chosen.isoformat()} ({chosen:%A})")
        return
    sender = _sender(ctx)
    reports: list[SendReport] = []
    for edition in editions:
        if dry_run:
            reports.append(sender.dry_run(edition))
        else:
            reports.append(sender.send(edition, resend_uncertain=resend_uncertain))
    if as_json:
        echo_json([dict(r.as_dict(), dry_run=dry_run) for r in reports])
    else:
        for report in reports:
            prefix = "dry run, would send: " if dry_run else ""
            click.echo(prefix + summary(report))
    if any(r.stopped or r.unsent for r in reports if not dry_run):
        sys.exit(UNSENT_EXIT)


def _ingest(ctx: Context, args: str) -> str:
    """Run ``paperfeed ingest ARGS`` in this process, on the scheduler's settings and engine.

    In process rather than in a child: ingestion installs no signal handler and keeps no
    state between runs beyond what the Context caches (the engine, the embedder), a failure
    is a PaperfeedError or an exit status like any command's, and a crash mid-way is what
    the job-run ledger already covers (the claim goes stale and a scheduler takes it over;
    ingestion resumes from its recorded cursor). It spares a Python start and the imports
    of every job (seconds), and the embedder's model is loaded once, not every morning.
    """
    from paperfeed.cli.ingest import ingest_group

    try:
        ingest_group.main(
            shlex.split(args), prog_name="paperfeed ingest", standalone_mode=False, obj=ctx
        )
    except click.ClickException as exc:
        raise SourceError(f"paperfeed ingest {args}: {exc.format_message()}") from exc
    except SystemExit as exc:  # a command's exit status (edge(), an incomplete run)
        if exc.code not in (None, 0):
            raise SourceError(f"paperfeed ingest {args} exited {exc.code}") from exc
    except PaperfeedError:
        raise
    except Exception as exc:  # a defect in one source must not stop the schedule
        logging.getLogger(__name__).exception("paperfeed ingest %s crashed", args)
        raise SourceError(f"paperfeed ingest {args} crashed: {exc!r}") from exc
    return f"paperfeed ingest {args}: exit 0"


def _thumbnails(ctx: Context) -> str:
    """``paperfeed thumbnails fetch`` for the scheduler: the report's line."""
    from paperfeed.ingest.thumbnails import thumbnail_job

    job = thumbnail_job(ctx.settings, ctx.engine())
    try:
        report = job.run(ctx.settings.thumbnails_per_run)
    finally:
        job.arxiv.close()
        job.images.close()
    click.echo(report.summary())
    return report.summary()


@click.command("schedule")
@click.option(
    "--interval", type=float, default=60.0, show_default=True, help="Seconds between checks."
)
@click.option(
    "--once", is_flag=True, help="Run what is due now (or in the last 6 hours), then exit."
)
@click.pass_context
@edge
def schedule(click_ctx: click.Context, interval: float, once: bool) -> None:
    """Run ingestion (PAPERFEED_SCHEDULE_INGEST at PAPERFEED_SCHEDULE_INGEST_TIME) and the
    digests (at PAPERFEED_DIGEST_TIME) on their days, in PAPERFEED_TIMEZONE, until stopped.
    Jobs of the last 6 hours that were missed run at start (they are safe to run twice).
    Each round also deletes the rate-limit events older than the longest limit's window and
    records this machine's index positions for `index status`; with a snapshot store set,
    a snapshot of the index files is published every PAPERFEED_INDEX_SNAPSHOT_HOURS.
    Several schedulers (on several machines) may share one database: each due job is
    claimed in the job-run ledger and runs on one of them only; a claim not finished after
    PAPERFEED_SCHEDULE_CLAIM_MINUTES counts as crashed and another scheduler takes it over.
    docs/deploy.md has the cron and systemd-timer alternatives.

    Example: paperfeed schedule
    """
    from paperfeed.deliver.digests.send import summary
    from paperfeed.deliver.scheduler import LedgerClaims, Plan, run_schedule

    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    plan = Plan.from_settings(ctx.settings)
    clock = ctx.settings.clock()

    def run_job(job: Job) -> str:
        if job.kind == "ingest":
            return _ingest(ctx, job.args)
        if job.kind == "thumbnails":
            return _thumbnails(ctx)
        if job.kind == "publish":
            return _publish(ctx)
        assert job.edition is not None
        try:
            report = _sender(ctx).send(job.edition)
        except PaperfeedError as exc:
            click.echo(f"{job.edition.key}: {exc}", err=True)
            raise
        click.echo(summary(report))
        return summary(report)

    stale = timedelta(minutes=ctx.settings.schedule_claim_minutes)
    claims = LedgerClaims(ctx.engine(), stale_after=stale)
    jobs = run_schedule(
        plan,
        clock,
        run_job,
        claims=claims,
        housekeeping=lambda now: _housekeeping(ctx, now),
        interval=interval,
        rounds=1 if once else None,
    )
    if once and not jobs:
        next_day = clock.now().astimezone(ctx.settings.zone).date() + timedelta(days=1)
        click.echo(f"nothing due; next digests on or after {next_day.isoformat()}")


def _publish(ctx: Context) -> str:
    """The scheduled `paperfeed index publish` (PAPERFEED_INDEX_SNAPSHOT_HOURS)."""
    from paperfeed.index.machines.publish import publish

    report = publish(ctx.engine(), ctx.settings, ctx.settings.clock().now())
    return f"published {report.name} ({report.total_bytes / 1e6:,.1f} MB, {report.store})"


def _housekeeping(ctx: Context, now: datetime) -> None:
    """Each round: prune the rate-limit events, and record this machine's index positions
    and heartbeat for `paperfeed index status` when it keeps indexes."""
    from paperfeed.deliver.scheduler import prune_rate_events
    from paperfeed.index.machines.positions import record

    prune_rate_events(ctx.engine(), ctx.settings, now)
    if Path(ctx.settings.index_dir).is_dir():
        record(ctx.engine(), ctx.settings, now, state="ready")
