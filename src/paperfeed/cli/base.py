"""The shared part of the command line: the group, its settings, and error translation.

The group imports a command's module only when that command runs (:mod:`.lazy`), and this
module imports nothing heavy at its top: ``paperfeed --help`` and ``--version`` load click
and little else, and each command loads what it uses.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from paperfeed import __version__
from paperfeed.cli.lazy import LazyCommand, LazyGroup
from paperfeed.errors import InvalidInputError, NotFoundError, PaperfeedError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from paperfeed.config import Settings
    from paperfeed.index.lexical.tantivy_index import WordIndex
    from paperfeed.index.semantic import SemanticIndex
    from paperfeed.models import StoredPaper

F = TypeVar("F", bound=Callable[..., Any])

#: Every command: its module and attribute, and its one-line help (the first line of its
#: docstring; tests/test_cli_startup.py checks they agree).
COMMANDS = {
    "db": LazyCommand(
        "paperfeed.cli.db:db_group",
        "Whole-database operations: copy a deployment to another database.",
    ),
    "digest": LazyCommand(
        "paperfeed.cli.digest:digest_group", "E-mail digests: preview one, send an edition."
    ),
    "eval": LazyCommand(
        "paperfeed.cli.search:eval_group", "Measure search quality on judged data."
    ),
    "index": LazyCommand(
        "paperfeed.cli.search:index_group", "Manage the search indexes (words and meaning)."
    ),
    "ingest": LazyCommand(
        "paperfeed.cli.ingest:ingest_group",
        "Fetch papers from a source and store them (dedup, versions, a report at the end).",
    ),
    "init": LazyCommand(
        "paperfeed.cli.papers:init_cmd",
        "Create and migrate the database, and load the sample papers into an empty one.",
    ),
    "migrate": LazyCommand(
        "paperfeed.cli.papers:migrate_cmd",
        "Apply database migrations (creating the database if needed).",
    ),
    "paper": LazyCommand("paperfeed.cli.papers:paper_group", "One stored paper."),
    "papers": LazyCommand("paperfeed.cli.papers:papers_group", "List stored papers."),
    "schedule": LazyCommand(
        "paperfeed.cli.digest:schedule",
        "Run ingestion (PAPERFEED_SCHEDULE_INGEST at PAPERFEED_SCHEDULE_INGEST_TIME) and the "
        "digests (at PAPERFEED_DIGEST_TIME) on their days, in PAPERFEED_TIMEZONE, until stopped.",
    ),
    "search": LazyCommand("paperfeed.cli.search:search_cmd", "Search papers by words and meaning."),
    "serve": LazyCommand(
        "paperfeed.cli.papers:serve_cmd",
        "Serve the web app (checks that the database is migrated first).",
    ),
    "similar": LazyCommand(
        "paperfeed.cli.search:similar_cmd",
        "Papers nearest in meaning to one paper, or to several taken together.",
    ),
    "stats": LazyCommand(
        "paperfeed.cli.papers:stats_cmd",
        "Counts of papers, featured days, sources and the last ingestion runs.",
    ),
    "thumbnails": LazyCommand(
        "paperfeed.cli.thumbnails:thumbnails_group",
        "Thumbnails of the papers' first pages, shown on the cards.",
    ),
    "token": LazyCommand("paperfeed.cli.accounts:token_group", "Manage API tokens."),
    "user": LazyCommand("paperfeed.cli.accounts:user_group", "Manage members."),
}


class Context:
    """What every command gets: the settings, and the engine when it needs one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None
        self._semantic: SemanticIndex | None = None
        self._words: WordIndex | None = None
        self._words_made = False

    def paper(self, arxiv_id: str) -> StoredPaper:
        """A stored paper by arXiv id (any version suffix), or a clear error."""
        from paperfeed.models import split_arxiv_id
        from paperfeed.store import papers as store

        try:
            base, _ = split_arxiv_id(arxiv_id)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from exc
        with self.engine().connect() as conn:
            stored = store.get_by_arxiv_id(conn, base)
        if stored is None:
            raise NotFoundError(f"no paper {base} in the database")
        return stored

    def semantic(self) -> SemanticIndex:
        from paperfeed.index.semantic import semantic_index

        if self._semantic is None:
            self._semantic = semantic_index(self.engine(), self.settings)
            # A command answers and exits: no background load it would cut short (see
            # SemanticIndex.background); `index update` loads the graph in its call.
            self._semantic.background = False
        return self._semantic

    def words(self) -> WordIndex | None:
        """The tantivy word index (None when the database ranks words). A command does
        not build it in the background: it catches up small backlogs itself."""
        from paperfeed.index.lexical.tantivy_index import word_index

        if not self._words_made:
            self._words = word_index(self.engine(), self.settings)
            if self._words is not None:
                self._words.background = False
            self._words_made = True
        return self._words

    def refresh_words(self, *, reconcile: bool = False) -> int | None:
        """Bring the tantivy word index in step (a bar on a terminal); papers indexed, or
        None when there is none or another process is writing it. ``reconcile`` also
        rebuilds it when its count differs from the database's."""
        words = self.words()
        if words is None:
            return None
        step = words.reconcile if reconcile else words.refresh
        if not sys.stderr.isatty():
            return step()
        from tqdm import tqdm

        with tqdm(desc="word index", unit=" papers", file=sys.stderr) as bar:

            def advance(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            return step(advance)

    def refresh_recommendations(self, *, only_kept: bool) -> tuple[int, bool] | None:
        """Bring the recommendation features in the index folder in step with the vectors,
        so that the serve workers map them instead of making them: (papers they hold,
        whether anything was made), or None without vectors, or with ``only_kept`` when
        this folder keeps none yet (a hub that never served "For you" pays nothing)."""
        from paperfeed.index.recommend.cache import FeatureCache
        from paperfeed.index.vectors.table import recorded_model

        with self.engine().connect() as conn:
            recorded = recorded_model(conn)
        if recorded is None:
            return None
        cache = FeatureCache(self.engine(), recorded[0], Path(self.settings.index_dir))
        files = cache.files()
        if only_kept and files is not None and files.stored_key() is None:
            return None
        features = cache.features()
        if files is not None:
            files.add_postings()  # files written before postings (For you's shortlist)
        return len(features.ids), cache.builds > 0

    def engine(self, *, migrated: bool = True) -> Engine:
        from paperfeed.store.engine import EngineOptions, make_engine
        from paperfeed.store.migrate import ensure_migrated

        if self._engine is None:
            # Only `migrate` (migrated=False) may create a missing SQLite file.
            self._engine = make_engine(
                self.settings.database_url,
                options=EngineOptions.from_settings(self.settings, statement_timeout=False),
                create=not migrated,
            )
            if migrated:
                ensure_migrated(self._engine)
        return self._engine


def edge(func: F) -> F:
    """Translate paperfeed errors into one line on stderr and their exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PaperfeedError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


def echo_json(data: object) -> None:
    import json

    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
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
    from paperfeed.config import load_settings

    try:
        settings = load_settings(config_file)
    except PaperfeedError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    import logging

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    ctx.obj = Context(settings)


pass_context = click.make_pass_decorator(Context)


def main() -> None:
    cli(prog_name="paperfeed")
