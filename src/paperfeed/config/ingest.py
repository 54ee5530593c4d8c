"""Settings of ingestion: the remote sources, how politely they are asked, what counts as a
malformed paper, and the thumbnail job."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IngestSettings(BaseModel):
    """Ingestion and remote sources"""

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
