"""`paperfeed index publish`, and the joining and machine-status parts of `index update` and
`index status`: several machines serving one hub (#17, docs/deploy.md)."""

from __future__ import annotations

from typing import Any

import click

from paperfeed.cli.base import Context, echo_json, edge, pass_context

#: A machine that recorded nothing for this long is shown as silent in `index status`.
SILENT_SECONDS = 7 * 86_400


@click.command("publish")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@edge
def index_publish(ctx: Context, as_json: bool) -> None:
    """Publish a snapshot of this machine's index files for new machines to join from.

    Writes the word index, the HNSW graph and the recommendation features, each with the
    journal position it reflects, to PAPERFEED_INDEX_SNAPSHOT_DIR (or the database, with
    PAPERFEED_INDEX_SNAPSHOT_DATABASE), then deletes snapshots beyond
    PAPERFEED_INDEX_SNAPSHOT_KEEP. Run `paperfeed index update` first so they are in step.

    Example: paperfeed index publish
    """
    from paperfeed.index.machines.publish import publish

    report = publish(ctx.engine(), ctx.settings, ctx.settings.clock().now())
    data = {
        "snapshot": report.name,
        "store": report.store,
        "parts": report.parts,
        "bytes": report.total_bytes,
        "pruned": report.pruned,
    }
    if as_json:
        echo_json(data)
        return
    click.echo(f"published {report.name} ({report.store}, {report.total_bytes / 1e6:,.1f} MB)")
    for kind, position in report.parts.items():
        click.echo(f"  {kind}: {_position(position)}")
    if report.pruned:
        click.echo(f"deleted {report.pruned} older snapshot(s)")


def _position(position: dict[str, Any]) -> str:
    shown = []
    if "version" in position:
        shown.append(f"journal version {position['version']}")
    if "count" in position:
        shown.append(f"{int(position['count']):,} papers")
    if "files" in position:
        shown.append(f"{position['files']} files")
    return ", ".join(shown) or "-"


def join_step(ctx: Context, *, serving: bool = False) -> None:
    """Restore the newest published snapshot where this machine's indexes are missing or
    far behind (the first step of `index update`, and of `serve` when a snapshot store is
    set). Serving, a snapshot that cannot be read is reported and the indexes are built
    in the background as without one."""
    from paperfeed.errors import PaperfeedError
    from paperfeed.index.machines.positions import record
    from paperfeed.index.machines.restore import join

    settings = ctx.settings
    now = settings.clock().now()
    try:
        report = join(ctx.engine(), settings, now)
    except (PaperfeedError, OSError) as exc:
        if not serving:
            raise
        click.echo(f"snapshot not restored ({exc}); the indexes build in the background", err=True)
        return
    if report.snapshot is None:
        if settings.index_snapshot_dir or settings.index_snapshot_database:
            click.echo("snapshot: none published yet; the indexes are built here")
        return
    if not report.restored:
        click.echo(f"snapshot {report.snapshot}: this machine's indexes are as good; kept")
        return
    for kind, position in report.restored.items():
        click.echo(f"restored {kind} from {report.snapshot} ({position['why']})")
    click.echo(f"  {report.bytes / 1e6:,.1f} MB from the {report.store}")
    record(ctx.engine(), settings, now, state="catching up", note=f"restored {report.snapshot}")


def graph_step(ctx: Context) -> None:
    """Bring this machine's HNSW graph cache in step (repaired from the stored vectors),
    when vectors are searched in memory above PAPERFEED_VECTOR_EXACT_MAX papers."""
    semantic = ctx.semantic()
    if semantic.backend != "memory":
        return
    from paperfeed.index.vectors.in_memory import VectorIndex

    with ctx.engine().connect() as conn:
        from paperfeed.index.vectors.table import count_model, recorded_model

        recorded = recorded_model(conn)
        count = count_model(conn, recorded[0]) if recorded else 0
    if recorded is None or count <= ctx.settings.vector_exact_max:
        return
    semantic.wait_for_graph = True  # the point of this step: build or repair it now
    index = semantic.index()
    if not isinstance(index, VectorIndex):  # pgvector answered an earlier step: load it now
        semantic.unload()
        index = semantic.index()
    if isinstance(index, VectorIndex):
        click.echo(f"vector graph: {index.size:,} papers ({index.origin})")


def finish_update(ctx: Context) -> None:
    """Record this machine's positions and heartbeat (the last step of `index update`)."""
    from paperfeed.index.machines.positions import record

    record(ctx.engine(), ctx.settings, ctx.settings.clock().now(), state="ready")


def machines_status(ctx: Context) -> dict[str, Any]:
    """Every machine's lag per index and the newest snapshot (for `index status`)."""
    from paperfeed.index.machines.positions import status

    return status(ctx.engine(), ctx.settings.clock().now())


def print_machines(data: dict[str, Any]) -> None:
    snapshot = data["snapshot"]
    if snapshot is None:
        click.echo("snapshot: none published")
    else:
        click.echo(
            f"snapshot: {snapshot['name']} ({snapshot['store']}, "
            f"{snapshot['bytes'] / 1e6:,.1f} MB), {_age(snapshot['age_s'])} old"
        )
    if not data["machines"]:
        click.echo("machines: none recorded yet (`paperfeed index update` records this one)")
    for machine in data["machines"]:
        click.echo(
            f"machine {machine['machine']} ({machine['state']}, heartbeat "
            f"{_age(machine['heartbeat_age_s'])} ago): {machine['index_dir']}"
        )
        if machine.get("note"):
            click.echo(f"  {machine['note']}")
        if machine["heartbeat_age_s"] > SILENT_SECONDS:
            click.echo(
                f"  silent: if it left the hub, `paperfeed index forget {machine['machine']}`"
            )
        for index, lag in machine["lag"].items():
            click.echo(f"  {index}: {lag['what']}")


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


@click.command("forget")
@click.argument("machine_id")
@pass_context
@edge
def index_forget(ctx: Context, machine_id: str) -> None:
    """Remove a machine that left the hub from `index status`.

    A machine that runs `index update`, `index publish` or a scheduler again comes back.

    Example: paperfeed index forget web-2-1a2b3c4d
    """
    from paperfeed.errors import NotFoundError
    from paperfeed.store import machines
    from paperfeed.store.engine import writing

    with writing(ctx.engine()) as conn:
        found = machines.forget_machine(conn, machine_id)
    if not found:
        raise NotFoundError(f"no machine {machine_id!r} in `paperfeed index status`")
    click.echo(f"forgot machine {machine_id}")
