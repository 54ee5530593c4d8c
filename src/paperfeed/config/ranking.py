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
    recommend_count: int = Field(
        30, ge=1, le=100, description='Papers on the "For you" page, API and private feed.'
    )
