"""Settings of the e-mail digests (their days, contents, links and delivery) and of
`paperfeed schedule`, which ingests and sends them on those days."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

WEEK_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def check_week_days(value: str) -> str:
    """``value`` if it is a comma-separated list of week days (mon, tue, ... sun)."""
    for part in value.replace(" ", "").lower().split(","):
        if part not in WEEK_DAYS:
            raise ValueError(f"unknown week day {part!r}: use {', '.join(WEEK_DAYS)}")
    return value


def check_clock_time(value: str) -> str:
    """``value`` stripped, if it is a time of day as HH:MM."""
    hours, _, minutes = value.strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise ValueError(f"expected a time as HH:MM, got {value!r}")
    return value.strip()


class DigestSettings(BaseModel):
    """Digests"""

    digest_days: str = Field(
        "sun,mon,tue,wed,thu",
        description="Week days the daily digest goes out (arXiv announces new papers on "
        "Sunday to Thursday evenings, US Eastern), comma-separated: mon, tue, ... sun.",
    )
    digest_weekly_day: str = Field(
        "fri", description="Week day the weekly digest goes out (mon, tue, ... sun)."
    )
    digest_time: str = Field(
        "21:00",
        description="Local time (HH:MM, in PAPERFEED_TIMEZONE) digests go out on their days.",
    )
    digest_trending_count: int = Field(
        10, ge=1, le=50, description="Trending papers in each digest."
    )
    digest_search_count: int = Field(
        5, ge=1, le=20, description="New papers per saved search in each digest."
    )
    digest_max_searches: int = Field(
        10, ge=0, le=50, description="Saved searches a subscriber may have."
    )
    digest_recommend_count: int = Field(
        5, ge=0, le=20, description='Papers in a member\'s digest "For you" section (0: none).'
    )
    digest_search_mode: Literal["lexical", "hybrid"] = Field(
        "lexical",
        description="How saved searches are run: `lexical` (papers holding the words) or "
        "`hybrid` (words and meaning, like the search page).",
    )
    digest_link_days: int = Field(
        365,
        ge=1,
        description="How long the unsubscribe and preferences links in a digest stay valid (days).",
    )
    digest_batch_size: int = Field(
        100, ge=1, le=10_000, description="Deliveries a sender claims per transaction."
    )
    digest_max_attempts: int = Field(
        5,
        ge=1,
        description="Attempts of one digest to one address (transient failures) before it "
        "is given up as failed.",
    )
    digest_retry_seconds: float = Field(
        60.0,
        ge=0,
        description="Wait before the first retry of a transient failure (a 4xx answer, a "
        "server that is down); doubles on each further one, up to an hour.",
    )
    digest_connect_attempts: int = Field(
        3,
        ge=1,
        description="Connections a digest run tries (waiting PAPERFEED_DIGEST_RETRY_SECONDS, "
        "doubling) before it stops with a report; the next run picks up what is unsent.",
    )
    digest_max_bounces: int = Field(
        3,
        ge=1,
        description="Permanent failures (5xx) in a row after which an address is marked "
        "failing and gets no more digests.",
    )
    digest_claim_minutes: int = Field(
        15,
        ge=1,
        description="A sender's claim on deliveries lapses after this long: unsent ones go "
        "back to the queue, ones it was handing over become `uncertain` (never resent "
        "unless `paperfeed digest send --resend-uncertain`).",
    )
    subscribe_ip_limit: int = Field(
        10,
        ge=1,
        description="Digest subscription requests allowed from one IP address per "
        "PAPERFEED_LOCKOUT_MINUTES (the web form and the API together).",
    )

    @field_validator("digest_days", "digest_weekly_day")
    @classmethod
    def _week_days(cls, value: str) -> str:
        return check_week_days(value)

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        return check_clock_time(value)


class ScheduleSettings(BaseModel):
    """Schedule"""

    schedule_ingest: list[str] = Field(
        default_factory=lambda: ["rss cs.AI+cs.CL+cs.CV+cs.LG"],
        description="What `paperfeed schedule` ingests on digest days: arguments of "
        "`paperfeed ingest`, one run each (a JSON list in the environment).",
    )
    schedule_ingest_time: str = Field(
        "20:30",
        description="Local time (HH:MM) `paperfeed schedule` ingests on PAPERFEED_DIGEST_DAYS.",
    )
    schedule_thumbnails_minutes: int = Field(
        30,
        ge=-1,
        description="Minutes after each scheduled ingestion that `paperfeed schedule` runs "
        "`paperfeed thumbnails fetch` (PAPERFEED_THUMBNAILS_PER_RUN papers); -1 never runs it.",
    )
    schedule_claim_minutes: int = Field(
        180,
        ge=1,
        description="A scheduled job that one `paperfeed schedule` claimed (each due job runs on "
        "one scheduler only, whatever the number of machines) and that has not finished after "
        "this long counts as crashed: another scheduler may take it over.",
    )

    @field_validator("schedule_ingest_time")
    @classmethod
    def _ingest_time(cls, value: str) -> str:
        return check_clock_time(value)
