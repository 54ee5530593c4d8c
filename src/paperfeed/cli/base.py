"""The shared part of the command line: the group, its settings, and error translation."""

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
from paperfeed.errors import InvalidInputError, NotFoundError, PaperfeedError
from paperfeed.index.lexical_tantivy import WordIndex, word_index
from paperfeed.index.semantic import SemanticIndex, semantic_index
from paperfeed.models import StoredPaper, split_arxiv_id
from paperfeed.store import papers as store
from paperfeed.store.engine import EngineOptions, make_engine
from paperfeed.store.migrate import ensure_migrated

F = TypeVar("F", bound=Callable[..., Any])


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
        if self._semantic is None:
            self._semantic = semantic_index(self.engine(), self.settings)
        return self._semantic

    def words(self) -> WordIndex | None:
        """The tantivy word index (None when the database ranks words). A command does
        not build it in the background: it catches up small backlogs itself."""
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

    def engine(self, *, migrated: bool = True) -> Engine:
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


def main() -> None:
    cli(prog_name="paperfeed")
