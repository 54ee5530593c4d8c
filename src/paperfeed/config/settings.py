"""The one settings object, joined from the groups, and :func:`load_settings`, which builds it.

Precedence, highest first: values passed in code, environment variables, the config file
named by ``PAPERFEED_CONFIG`` (or ``--config``), defaults.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from paperfeed.config.database import DEFAULT_DATABASE_URL, DatabaseSettings
from paperfeed.config.digests import DigestSettings, ScheduleSettings
from paperfeed.config.hub import HubSettings
from paperfeed.config.ingest import IngestSettings
from paperfeed.config.mail import MailSettings
from paperfeed.config.ranking import RankingSettings
from paperfeed.config.search import SearchSettings
from paperfeed.config.security import SecuritySettings
from paperfeed.config.server import ServerSettings
from paperfeed.config.submissions import SubmissionSettings
from paperfeed.errors import ConfigError

__all__ = ["DEFAULT_DATABASE_URL", "GROUPS", "Settings", "load_settings"]

#: The groups of settings in the order docs/settings.md shows them (its sections).
GROUPS: tuple[type[BaseModel], ...] = (
    DatabaseSettings,
    HubSettings,
    ServerSettings,
    IngestSettings,
    SearchSettings,
    RankingSettings,
    SecuritySettings,
    SubmissionSettings,
    MailSettings,
    DigestSettings,
    ScheduleSettings,
)


# The groups in reverse: pydantic collects fields from the last base first, so
# Settings.model_fields (and the order of validation errors) follows GROUPS.
class Settings(
    ScheduleSettings,
    DigestSettings,
    MailSettings,
    SubmissionSettings,
    SecuritySettings,
    RankingSettings,
    SearchSettings,
    IngestSettings,
    ServerSettings,
    HubSettings,
    DatabaseSettings,
    BaseSettings,
):
    """Every setting of paperfeed, one flat object joined from the groups (``settings.port``,
    whatever its group). Each one is documented in docs/settings.md (a test checks)."""

    model_config = SettingsConfigDict(
        env_prefix="PAPERFEED_", extra="forbid", validate_default=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = _CONFIG_FILE.get() or os.environ.get("PAPERFEED_CONFIG")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


#: The TOML file of the settings being built by :func:`load_settings` (``--config``): read
#: by :meth:`Settings.settings_customise_sources`, never written to the environment.
_CONFIG_FILE: ContextVar[str | None] = ContextVar("paperfeed_config_file", default=None)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings, turning validation errors into one readable :class:`ConfigError`.

    ``config_file`` (the CLI's ``--config``) wins over ``PAPERFEED_CONFIG``; it reaches the
    settings sources through a context variable, so the process environment is left as it
    was (a thread building other settings meanwhile does not see it)."""
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
    else:
        env_file = os.environ.get("PAPERFEED_CONFIG")
        if env_file and not Path(env_file).is_file():
            raise ConfigError(f"config file not found: {env_file} (from PAPERFEED_CONFIG)")
    token = _CONFIG_FILE.set(str(config_file) if config_file is not None else None)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            lines.append(f"PAPERFEED_{name.upper()}: {err['msg']}")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read settings: {exc}") from exc
    finally:
        _CONFIG_FILE.reset(token)
