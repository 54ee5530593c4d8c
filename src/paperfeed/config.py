"""Settings: one typed object, read from ``PAPERFEED_*`` environment variables and
an optional TOML file, built by ``create_app()`` and the CLI, never at import.

Precedence, highest first: values passed in code, environment variables, the
config file named by ``PAPERFEED_CONFIG`` (or ``--config``), defaults.
"""

from __future__ import annotations

import ipaddress
import os
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from paperfeed.clock import Clock, FrozenClock, SystemClock
from paperfeed.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///data/paperfeed.db"


class Settings(BaseSettings):
    """Every setting of paperfeed. Each one is documented in docs/settings.md (a test checks)."""

    model_config = SettingsConfigDict(
        env_prefix="PAPERFEED_", extra="forbid", validate_default=True
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the database: a SQLite file (the default, relative to "
        "the working directory) or postgresql://user:pass@host/db.",
    )
    sqlite_busy_timeout_ms: int = Field(
        5000, ge=0, description="How long a SQLite writer waits for a lock before failing (ms)."
    )
    db_pool_size: int = Field(
        5,
        ge=1,
        description="PostgreSQL: connections each process keeps open in its pool (a server "
        "worker needs about PAPERFEED_SERVER_THREADS).",
    )
    db_max_overflow: int = Field(
        10,
        ge=0,
        description="PostgreSQL: extra connections a process may open above the pool size "
        "under load (closed again when returned).",
    )
    db_pool_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="PostgreSQL: how long a request waits for a free pooled connection "
        "before failing with 503.",
    )
    db_pool_recycle_seconds: int = Field(
        1800,
        ge=0,
        description="PostgreSQL: pooled connections older than this are reopened (outlives "
        "idle timeouts of proxies and firewalls); 0: never.",
    )
    db_connect_timeout_seconds: int = Field(
        10,
        ge=1,
        description="PostgreSQL: how long opening a connection may take before the server "
        "counts as unreachable (503 on the web, exit code 6 on the command line).",
    )
    db_statement_timeout_ms: int = Field(
        30_000,
        ge=0,
        description="PostgreSQL: the web server's statements running longer are cancelled and "
        "the request answered 503 (the server's `statement_timeout`); 0: no limit. Commands "
        "(migrations, index rebuilds, copies, ingestion) run without one.",
    )
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
    host: str = Field("127.0.0.1", description="Address `paperfeed serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `paperfeed serve` listens on.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Worker processes of `paperfeed serve`, each with a listening socket of its "
        "own on the same port (SO_REUSEPORT; more than one needs Linux). One per CPU core.",
    )
    server_threads: int = Field(
        4,
        ge=1,
        le=256,
        description="Threads per server worker that run request handlers (database queries, "
        "search, rendering). More than a few only queue on Python's GIL.",
    )
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api/query", description="Base URL of the arXiv API."
    )
    arxiv_oai_url: str = Field(
        "https://oaipmh.arxiv.org/oai", description="Base URL of arXiv's OAI-PMH endpoint."
    )
    arxiv_rss_url: str = Field(
        "https://rss.arxiv.org/atom",
        description="Base URL of arXiv's RSS/Atom listings (categories are appended).",
    )
    hf_daily_papers_url: str = Field(
        "https://huggingface.co/api/daily_papers",
        description="URL of the Hugging Face daily-papers API.",
    )
    thumbnails_pdf_url: str = Field(
        "https://arxiv.org/pdf",
        description="Base URL of arXiv's PDFs, whose first pages become thumbnails "
        "(`paperfeed thumbnails fetch`); the arXiv id and version are appended.",
    )
    thumbnails_contact: str = Field(
        "",
        description="An e-mail address or URL put in the User-Agent of the thumbnail job's "
        "requests, as arXiv asks of automated clients; empty falls back to PAPERFEED_MAIL_FROM.",
    )
    thumbnails_per_run: int = Field(
        100,
        ge=1,
        description="Thumbnails one run of the job makes at most (arXiv PDFs come one every "
        "PAPERFEED_ARXIV_DELAY_SECONDS, so 100 take about five minutes).",
    )
    arxiv_delay_seconds: float = Field(
        3.0,
        ge=0,
        description="Seconds between two requests to arXiv (arXiv asks for one request "
        "every 3 seconds on a single connection).",
    )
    http_timeout_seconds: float = Field(
        60.0, gt=0, description="Timeout of one HTTP request to a remote source."
    )
    http_retries: int = Field(
        5,
        ge=0,
        description="Retries of a failed request (429, 5xx, dropped connection) before "
        "the run stops with a report; a rerun resumes.",
    )
    http_backoff_seconds: float = Field(
        5.0,
        ge=0,
        description="First wait before a retry when the server sends no Retry-After; "
        "doubles on each further retry.",
    )
    arxiv_page_size: int = Field(
        1000, ge=1, le=2000, description="Results per arXiv API page (arXiv allows 2,000)."
    )
    ingest_batch_size: int = Field(
        1000, ge=1, description="Papers written per database transaction during ingestion."
    )
    max_title_chars: int = Field(
        1000, ge=10, description="Longer titles are rejected as malformed."
    )
    max_abstract_chars: int = Field(
        20000,
        ge=100,
        description="Longer abstracts are rejected as malformed (arXiv caps abstracts "
        "at 1,920 characters).",
    )
    sample_days: int = Field(
        14,
        ge=1,
        description="The bundled sample papers are featured on this many days up to today.",
    )
    external_data_dir: str = Field(
        "../shared/data",
        description="Folder of evaluation data that may not be shipped with paperfeed (BEIR "
        "SciFact, the CiteULike subset, the Hugging Face daily archive, the raw seed pages); a "
        "relative path starts at the repository's root. Only the benchmarks in bench/ and the "
        "tests marked `quality` read it; they stop or skip, saying why, when it is absent.",
    )
    embedder: str = Field(
        "minilm",
        description="Embedding model for search by meaning, one of the bundled embedders: "
        "`minilm` (all-MiniLM-L6-v2, int8 ONNX: best quality, ~40 abstracts/s on 2 cores) or "
        "`static` (a static model distilled from it: thousands of abstracts/s, lower quality). "
        "Changing it needs `paperfeed index rebuild`.",
    )
    embed_on_ingest: bool = Field(
        True,
        description="Embed new and changed papers during ingestion. Turn off for bulk loads "
        "and run `paperfeed index update` afterwards.",
    )
    vector_exact_max: int = Field(
        50_000,
        ge=0,
        description="Search vectors exactly (brute force) up to this many papers; above it an "
        "HNSW graph answers (approximate, much faster on large corpora; built once, about 40 s "
        "at 100 k papers, then reloaded from PAPERFEED_INDEX_DIR). The default keeps hybrid "
        "search within 10 ms at 100 k papers (docs/benchmarks.md).",
    )
    vector_backend: Literal["auto", "memory", "database"] = Field(
        "auto",
        description="Where nearest-neighbour search runs: `memory` (each process loads the "
        "vectors and searches them itself, exactly or by an HNSW graph, see "
        "PAPERFEED_VECTOR_EXACT_MAX), `database` (pgvector's HNSW index inside PostgreSQL, "
        "shared by every worker and machine: nothing to load or build per process; "
        "PostgreSQL only) or `auto` (the database on PostgreSQL, memory on SQLite).",
    )
    index_dir: str = Field(
        "data/index",
        description="Folder for cached index files (the HNSW graph), rebuilt from the "
        "database whenever missing or stale.",
    )
    lexical_engine: Literal["auto", "tantivy", "database"] = Field(
        "auto",
        description="What ranks word matches: `tantivy` (a word index on disk under "
        "PAPERFEED_INDEX_DIR, derived from the database and kept in step with it: about a "
        "millisecond per query at 100 k papers), `database` (SQLite FTS5 or PostgreSQL "
        "tsvector only: tens of milliseconds per 100 k papers with SQLite, hundreds with "
        "PostgreSQL) or `auto` (tantivy, with the database answering whenever the word index "
        "is not in step; on PostgreSQL each machine keeps its own folder, in step through the "
        "change journal in the database).",
    )
    search_fusion: Literal["normalised", "rrf"] = Field(
        "normalised",
        description="How hybrid search fuses the word and meaning lists: `normalised` "
        "(min-max scaled scores, weighted by PAPERFEED_SEARCH_LEXICAL_WEIGHT) or `rrf` "
        "(reciprocal rank fusion with PAPERFEED_SEARCH_RRF_K). See docs/design.md.",
    )
    search_lexical_weight: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Weight of the word matches in `normalised` fusion (the rest goes to meaning).",
    )
    search_rrf_k: int = Field(
        60,
        ge=1,
        description="The k of reciprocal rank fusion, when PAPERFEED_SEARCH_FUSION=rrf "
        "(larger flattens the weight of top ranks).",
    )
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="The hub's public URL, used for absolute links in feeds and mail.",
    )
    trending_gravity: float = Field(
        1.8,
        gt=0,
        description="Gravity of the trending formula (votes + 1) / (hours + 2) ^ gravity: "
        "higher sinks older papers faster.",
    )
    trending_window_days: int = Field(
        7, ge=1, description="Only papers featured within this many days can trend."
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Secret that signs e-mailed links and CSRF tokens (32 characters or more). "
        "When unset, one is generated once and kept in PAPERFEED_SECRET_FILE. To change it "
        "without voiding the links already mailed, see PAPERFEED_OLD_SECRET_KEYS.",
    )
    secret_file: str = Field(
        "data/secret.key",
        description="Where the generated secret is kept when PAPERFEED_SECRET_KEY is unset "
        "(created with mode 0600).",
    )
    old_secret_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Secrets the hub used before (a JSON list in the environment): links "
        "and forms signed with them still verify, new ones are signed with "
        "PAPERFEED_SECRET_KEY. To change the secret, move the old one here (a generated "
        "one is in PAPERFEED_SECRET_FILE) and keep it PAPERFEED_DIGEST_LINK_DAYS, the life "
        "of a digest's unsubscribe link; drop it at once if it leaked.",
    )
    session_days: int = Field(30, ge=1, description="How long a log-in session lasts (days).")
    password_hash_profile: Literal["standard", "test"] = Field(
        "standard",
        description="Cost of new argon2id password hashes: `standard` (argon2-cffi's defaults, "
        "RFC 9106's low-memory profile: 3 passes over 64 MiB, ~50 ms) or `test` (1 pass over "
        "8 KiB: for the test suite only, never in production). Stored hashes keep their own "
        "cost and verify under either; a log-in rehashes one made at another cost.",
    )
    smtp_host: str = Field(
        "",
        description="SMTP server for account e-mail (and digests). Empty: no mail is sent and "
        "each message is logged at WARNING instead (development only).",
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="Port of the SMTP server.")
    smtp_user: str = Field("", description="SMTP user name; empty for no authentication.")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    smtp_tls: Literal["starttls", "ssl", "none"] = Field(
        "starttls",
        description="How to secure the SMTP connection: `starttls` (port 587), `ssl` "
        "(implicit TLS, port 465) or `none` (a local relay only).",
    )
    mail_from: str = Field(
        "paperfeed <paperfeed@localhost>", description="The From address of mail the hub sends."
    )
    verify_link_hours: int = Field(
        48, ge=1, description="How long an e-mail confirmation link stays valid (hours)."
    )
    reset_link_hours: int = Field(
        2, ge=1, description="How long a password reset link stays valid (hours)."
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        description="Failed log-ins on one account from one IP address within "
        "PAPERFEED_LOCKOUT_MINUTES that lock that account for that IP address (only) until "
        "the oldest of them is that old.",
    )
    login_account_max_failures: int = Field(
        50,
        ge=1,
        description="Failed log-ins on one account from all IP addresses within "
        "PAPERFEED_LOCKOUT_MINUTES that lock it for everyone (guessing spread over many "
        "addresses); a password reset lifts it. Keep it well above PAPERFEED_LOGIN_MAX_FAILURES "
        "so that one stranger cannot lock an owner out.",
    )
    lockout_minutes: int = Field(
        15, ge=1, description="Window of the log-in lockout and of the per-IP rate limits."
    )
    auth_ip_limit: int = Field(
        30,
        ge=1,
        description="Log-in, sign-up and reset attempts allowed from one IP address per "
        "PAPERFEED_LOCKOUT_MINUTES (each form counted separately).",
    )
    trusted_proxies: str = Field(
        "",
        description="IP addresses or networks (comma-separated, e.g. `127.0.0.1, 10.0.0.0/8`) "
        "of the reverse proxies in front of the hub, whose X-Forwarded-For header names the "
        "client for rate limits and the log-in lockout. Empty: X-Forwarded-For is ignored "
        "and the peer's address counts (docs/deploy.md, Security).",
    )
    auth_account_limit: int = Field(
        5,
        ge=1,
        description="Sign-up and reset requests allowed per e-mail address per "
        "PAPERFEED_LOCKOUT_MINUTES.",
    )
    submission_max_age_days: int = Field(
        14,
        ge=1,
        description="Members may submit papers whose arXiv date is at most this many days old.",
    )
    submission_limit: int = Field(
        20,
        ge=1,
        description="Papers one member may submit per hour (each attempt counts, so a "
        "member cannot keep the hub asking arXiv).",
    )
    submission_wait_seconds: float = Field(
        15.0,
        gt=0,
        description="How long a submission waits for arXiv before answering 504 (the "
        "look-up goes on; submitting again a minute later gets its answer). All submissions "
        "of a server process share one paced arXiv client, so none holds a server thread.",
    )
    response_cache_mb: int = Field(
        32,
        ge=0,
        description="Memory per server worker for whole responses of the paper lists (the JSON "
        "API), each kept until the next commit to the database; 0 turns the cache off.",
    )
    log_level: str = Field("WARNING", description="Logging level of the CLI and server.")
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
    recommend_half_life_days: float = Field(
        180.0,
        ge=0,
        description="Recommendations: a signal (upvote, save, opened paper) weighs half as "
        "much after this many days; 0 keeps every signal at full weight.",
    )
    recommend_count: int = Field(
        30, ge=1, le=100, description='Papers on the "For you" page, API and private feed.'
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
    smtp_rate_per_minute: int = Field(
        600, ge=0, description="Messages sent per minute at most (0: no limit)."
    )
    subscribe_ip_limit: int = Field(
        10,
        ge=1,
        description="Digest subscription requests allowed from one IP address per "
        "PAPERFEED_LOCKOUT_MINUTES (the web form and the API together).",
    )
    unsubscribe_mailto: str = Field(
        "",
        description="Address of the `mailto:` in digests' List-Unsubscribe header; empty: "
        "the address of PAPERFEED_MAIL_FROM. Mail to it must reach the hub's operator.",
    )
    schedule_ingest: list[str] = Field(
        default_factory=lambda: ["rss cs.AI+cs.CL+cs.CV+cs.LG"],
        description="What `paperfeed schedule` ingests on digest days: arguments of "
        "`paperfeed ingest`, one run each (a JSON list in the environment).",
    )
    schedule_thumbnails_minutes: int = Field(
        30,
        ge=-1,
        description="Minutes after each scheduled ingestion that `paperfeed schedule` runs "
        "`paperfeed thumbnails fetch` (PAPERFEED_THUMBNAILS_PER_RUN papers); -1 never runs it.",
    )
    schedule_ingest_time: str = Field(
        "20:30",
        description="Local time (HH:MM) `paperfeed schedule` ingests on PAPERFEED_DIGEST_DAYS.",
    )
    schedule_claim_minutes: int = Field(
        180,
        ge=1,
        description="A scheduled job that one `paperfeed schedule` claimed (each due job runs on "
        "one scheduler only, whatever the number of machines) and that has not finished after "
        "this long counts as crashed: another scheduler may take it over.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("digest_days", "digest_weekly_day")
    @classmethod
    def _week_days(cls, value: str) -> str:
        names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        for part in value.replace(" ", "").lower().split(","):
            if part not in names:
                raise ValueError(f"unknown week day {part!r}: use {', '.join(names)}")
        return value

    @field_validator("digest_time", "schedule_ingest_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hours, _, minutes = value.strip().partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise ValueError(f"expected a time as HH:MM, got {value!r}")
        return value.strip()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in value.replace(" ", "").split(","):
            if part:
                try:
                    ipaddress.ip_network(part, strict=False)
                except ValueError as exc:
                    raise ValueError(f"not an IP address or network: {part!r}") from exc
        return value

    @field_validator("frozen_time")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

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
