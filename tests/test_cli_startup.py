"""The command line starts at once: `--help` and `--version` import click and little else,
and each command imports only what it runs (the group loads a command's module on use).

Checked in a fresh interpreter each (this test process has imported everything already).
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from paperfeed.cli import cli
from paperfeed.cli.base import COMMANDS
from paperfeed.cli.lazy import LazyGroup

#: Libraries that take tens to thousands of milliseconds to import.
HEAVY = (
    "sklearn",
    "scipy",
    "numpy",
    "onnxruntime",
    "tokenizers",
    "usearch",
    "tantivy",
    "alembic",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "pydantic",
    "pydantic_settings",
    "httpx",
    "argon2",
)

_PROBE = """
import json, sys
import click
from paperfeed.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="paperfeed", standalone_mode=False)
except (SystemExit, click.ClickException):  # no command: the group shows its help
    pass
print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules})))
"""


def loaded_after(*args: str) -> set[str]:
    """Top-level packages a fresh interpreter holds after `paperfeed ARGS`."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.slow  # a fresh interpreter each
@pytest.mark.parametrize("args", [[], ["--help"], ["--version"]])
def test_help_and_version_leave_the_heavy_libraries_out(args: list[str]) -> None:
    loaded = loaded_after(*args)
    assert "click" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.slow  # a fresh interpreter each
@pytest.mark.parametrize(
    ("args", "absent"),
    [
        (["stats", "--help"], {"sklearn", "scipy", "onnxruntime", "usearch", "fastapi"}),
        (["migrate", "--help"], {"sklearn", "scipy", "onnxruntime", "usearch", "fastapi"}),
        (["user", "--help"], {"sklearn", "scipy", "onnxruntime", "tantivy", "fastapi"}),
        (["digest", "--help"], {"sklearn", "scipy", "onnxruntime", "fastapi", "uvicorn"}),
    ],
)
def test_a_command_imports_what_it_runs(args: list[str], absent: set[str]) -> None:
    loaded = loaded_after(*args)
    assert "pydantic_settings" in loaded  # the group built the settings: the command ran
    assert not loaded & absent, sorted(loaded & absent)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_kept_one_line_help_is_the_commands_own(name: str) -> None:
    """`--help` lists the lines kept in COMMANDS (no import): they must say what the
    commands themselves say."""
    ctx = click.Context(cli)
    command = cli.get_command(ctx, name)
    assert command is not None
    assert COMMANDS[name].short_help == command.get_short_help_str(limit=1000)


def test_the_listing_without_imports_is_the_listing_with_them() -> None:
    def listing(group: click.Group) -> str:
        ctx = click.Context(group, info_name="paperfeed", terminal_width=100)
        formatter = ctx.make_formatter()
        group.format_commands(ctx, formatter)
        return formatter.getvalue()

    unloaded = LazyGroup("paperfeed", lazy=COMMANDS)
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        cli.get_command(ctx, name)
    assert set(cli.commands) == set(COMMANDS)
    assert not unloaded.commands
    assert listing(unloaded) == listing(cli)
