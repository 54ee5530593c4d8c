"""Write docs/cli.md from the commands' own --help (run by `make docs`; checked by tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paperfeed.cli import cli


def _sections(
    command: click.Command, name: str, parent: click.Context | None
) -> list[tuple[str, str]]:
    """(full name, help text) of a command and all below it, each in its parent's context
    (so inherited settings such as ``-h`` show as they do on the command line)."""
    settings = {"terminal_width": 100, **command.context_settings}
    ctx = click.Context(command, info_name=name, parent=parent, **settings)
    found = [(ctx.command_path, command.get_help(ctx))]
    if isinstance(command, click.Group):  # list_commands: the lazy group imports each on use
        for sub in sorted(command.list_commands(ctx)):
            subcommand = command.get_command(ctx, sub)
            assert subcommand is not None, sub
            found.extend(_sections(subcommand, sub, ctx))
    return found


def render() -> str:
    parts = [
        "# Command-line reference\n",
        "Generated from `--help` by `make docs` (docs/generate_cli_md.py); a test fails when it is",
        "out of date. Every command takes the global `--config FILE` option before its name.\n",
    ]
    for name, text in _sections(cli, "paperfeed", None):
        parts.append(f"## `{name}`\n\n```text\n{text}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    out = Path(__file__).with_name("cli.md")
    out.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {out}\n")
