"""Settings of the hub as a whole: its time zone and clock, public URL, logging, and where
the evaluation data lies."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

from paperfeed.clock import Clock, FrozenClock, SystemClock


class HubSettings(BaseModel):
    """The hub: time, address, logging"""

    timezone: str = Field(
        "America/New_York",
        description="The hub's time zone: days, weeks and months of the daily lists are "
        "counted in it (arXiv announces in US Eastern time).",
    )
    frozen_time: datetime | None = Field(
        None,
        description="Pin the clock to this ISO 8601 instant (tests, reproducible demos). "
        "Unset in production.",
    )
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="The hub's public URL, used for absolute links in feeds and mail.",
    )
    log_level: str = Field("WARNING", description="Logging level of the CLI and server.")
    external_data_dir: str = Field(
        "../shared/data",
        description="Folder of evaluation data that may not be shipped with paperfeed (BEIR "
        "SciFact, the CiteULike subset, the Hugging Face daily archive, the raw seed pages); a "
        "relative path starts at the repository's root. Only the benchmarks in bench/ and the "
        "tests marked `quality` read it; they stop or skip, saying why, when it is absent.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("frozen_time")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def external_data_path(self, root: Path) -> Path:
        """``external_data_dir`` as a path; a relative one starts at ``root`` (the repository)."""
        path = Path(self.external_data_dir).expanduser()
        return path if path.is_absolute() else Path(os.path.normpath(root / path))

    def clock(self) -> Clock:
        """The clock every edge uses: frozen when ``frozen_time`` is set."""
        if self.frozen_time is not None:
            return FrozenClock(self.frozen_time)
        return SystemClock()
