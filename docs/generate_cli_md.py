"""Write docs/cli.md from the commands' own --help (run by `make docs`; checked by tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paperfeed.cli import cli


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found.extend(_walk(command.commands[name], [*path, name]))
    return found


def render() -> str:
    parts = [
        "# Command-line reference\n",
        "Generated from `--help` by `make docs` (docs/generate_cli_md.py); a test fails when it is",
        "out of date. Every command takes the global `--config FILE` option before its name.\n",
    ]
    for path, command in _walk(cli, ["paperfeed"]):
        name = " ".join(path)
        with click.Context(command, info_name=name, terminal_width=100) as ctx:
            text = command.get_help(ctx)
        parts.append(f"## `{name}`\n\n```text\n{text}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    out = Path(__file__).with_name("cli.md")
    out.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {out}\n")
