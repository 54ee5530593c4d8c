"""Settings of ranking: the trending formula and the recommendations of "For you"."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RankingSettings(BaseModel):
    """Trending and recommendations"""

    trending_gravity: float = Field(
        1.8,
        gt=0,
        description="Gravity of the trending formula (votes + 1) / (hours + 2) ^ gravity: "
        "higher sinks older papers faster.",
    )
    trending_window_days: int = Field(
        7, ge=1, description="Only papers featured within this many days can trend."
    )
    recommend_half_life_days: float = Field(
        180.0,
        ge=0,
        description="Recommendations: a signal (upvote, save, opened paper) weighs half as "
        "much after this many days; 0 keeps every signal at full weight.",
    )
    recommend_shortlist_over: int = Field(
        200_000,
        ge=0,
        description='Above this many papers, "For you" scores each member\'s model on a '
        "shortlist of a few thousand papers (the vector graph's nearest to the model and to "
        "the liked papers, and the papers holding the model's heaviest words) instead of on "
        "every paper: at a million papers it then reads a few thousand papers' rows and the "
        "postings of 50 terms, not the 2.2 GB of every paper's features, and its top 50 "
        "hold 99 % of those of scoring every paper on average (docs/benchmarks.md). Needs "
        "the HNSW graph (PAPERFEED_VECTOR_EXACT_MAX) and "
        "feature files with postings (`paperfeed index update`); every paper is scored "
        "otherwise.",
    )
    recommend_count: int = Field(
        30, ge=1, le=100, description='Papers on the "For you" page, API and private feed.'
    )
