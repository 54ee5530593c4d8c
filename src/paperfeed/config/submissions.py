"""Settings of members' submissions: which papers they may submit, how often, and how long
a submission waits for arXiv."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SubmissionSettings(BaseModel):
    """Submissions"""

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
