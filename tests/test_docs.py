"""The docs cover every setting, CLI command and route, and the generated pages are current."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import click
import pytest
from fastapi.routing import APIRoute

from paperfeed.cli import cli
from paperfeed.config import Settings, load_settings
from paperfeed.deliver.app import create_app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _generator(name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_setting_is_documented() -> None:
    text = (DOCS / "settings.md").read_text()
    for name, field in Settings.model_fields.items():
        assert f"`PAPERFEED_{name.upper()}`" in text, name
        assert field.description, f"setting {name} has no help text"


def test_settings_page_is_current() -> None:
    module = _generator("generate_settings_md")
    assert (DOCS / "settings.md").read_text() == module.render(), "run `make docs`"  # type: ignore[attr-defined]


def _commands(command: click.Command, path: str) -> list[tuple[str, click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):  # the lazy group imports each command on use
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            found.extend(_commands(sub, f"{path} {name}"))
    return found


def test_every_command_has_help_with_an_example_and_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    for path, command in _commands(cli, "paperfeed"):
        assert f"## `{path}`" in text, path
        if not isinstance(command, click.Group):
            assert "Example: paperfeed" in (command.help or ""), f"{path} has no example"


def test_cli_page_is_current() -> None:
    module = _generator("generate_cli_md")
    assert (DOCS / "cli.md").read_text() == module.render(), "run `make docs`"  # type: ignore[attr-defined]


def test_every_route_is_documented(db_url: str) -> None:
    """Every route the app serves (from the routers ``create_app`` includes, not a list
    kept here by hand)."""
    from paperfeed.deliver.routes.site import ROUTERS

    app = create_app(load_settings(database_url=db_url))
    text = (DOCS / "api.md").read_text()
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    paths = {r.path.replace(":path", "") for r in routes}
    assert "/api/daily_papers" in paths and "/search" in paths
    assert set(app.openapi()["paths"]) <= paths
    for path in paths | {"/openapi.json", "/docs"}:
        assert f"| `{path}` |" in text, path


@pytest.mark.slow  # runs lint-imports, as make test does before the suite
def test_import_layers_point_down() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
