"""`--config FILE` reaches the settings without touching the process environment."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import paperfeed.config as config_module
from paperfeed.config import load_settings
from paperfeed.errors import ConfigError


def test_a_config_file_is_read_and_the_environment_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    monkeypatch.delenv("PAPERFEED_TIMEZONE", raising=False)
    config = tmp_path / "paperfeed.toml"
    config.write_text('timezone = "Europe/Berlin"\n')
    before = dict(os.environ)
    assert load_settings(config).timezone == "Europe/Berlin"
    assert dict(os.environ) == before
    assert load_settings().timezone != "Europe/Berlin"  # the file was for that call only


def test_the_file_wins_over_paperfeed_config_and_the_environment_over_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named, other = tmp_path / "named.toml", tmp_path / "other.toml"
    named.write_text('timezone = "Europe/Berlin"\nport = 9001\n')
    other.write_text('timezone = "Asia/Tokyo"\n')
    monkeypatch.setenv("PAPERFEED_CONFIG", str(other))
    monkeypatch.delenv("PAPERFEED_TIMEZONE", raising=False)
    monkeypatch.setenv("PAPERFEED_PORT", "9002")
    assert load_settings().timezone == "Asia/Tokyo"
    settings = load_settings(named)
    assert (settings.timezone, settings.port) == ("Europe/Berlin", 9002)


def test_settings_built_meanwhile_in_another_thread_do_not_see_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    monkeypatch.delenv("PAPERFEED_TIMEZONE", raising=False)
    config = tmp_path / "paperfeed.toml"
    config.write_text('timezone = "Europe/Berlin"\n')
    seen: list[str] = []
    inside = threading.Event()
    done = threading.Event()

    def other_thread() -> None:
        inside.wait(10)
        seen.append(load_settings().timezone)
        done.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    original = config_module.Settings.settings_customise_sources.__func__  # type: ignore[attr-defined]

    def slow_sources(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        sources = original(cls, *args, **kwargs)
        if threading.current_thread() is not worker:  # build ours while the other builds
            inside.set()
            done.wait(10)
        return sources

    monkeypatch.setattr(
        config_module.Settings, "settings_customise_sources", classmethod(slow_sources)
    )
    assert load_settings(config).timezone == "Europe/Berlin"
    worker.join(10)
    assert seen and seen[0] != "Europe/Berlin"


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.toml")
