"""A click group whose commands live in modules imported only when a command runs.

``paperfeed --help`` and ``--version`` then start in tens of milliseconds instead of
seconds: the commands' modules reach scikit-learn, onnxruntime, tantivy, alembic, FastAPI...
The group lists each command with the one-line help kept beside its module path, so the
listing imports nothing; tests/test_cli_startup.py checks that these lines match the
commands' own.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives (``module:attribute``) and its one-line help."""

    target: str
    short_help: str


class LazyGroup(click.Group):
    """A group of commands named in ``lazy``, each imported on first use."""

    def __init__(self, *args: object, lazy: dict[str, LazyCommand], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in self.lazy:
            return found
        module_name, _, attribute = self.lazy[cmd_name].target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy[cmd_name].target} is not a click command")
        self.commands[cmd_name] = command  # once imported, like any other command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help`` from the kept one-line helps: no import."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.lazy and name not in self.commands:
                # click's own shortening, on a stand-in that carries the kept line
                stand_in = click.Command(name, help=self.lazy[name].short_help)
                text = stand_in.get_short_help_str(limit)
            else:
                command = self.commands[name]
                if command.hidden:
                    continue
                text = command.get_short_help_str(limit)
            rows.append((name, text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
