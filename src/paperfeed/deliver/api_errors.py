"""The error answers the community's API documents (all in the one JSON envelope)."""

from __future__ import annotations

from typing import Any

from paperfeed.deliver.api import ERRORS, ErrorOut

WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    401: {"model": ErrorOut, "description": "no valid API token"},
    403: {"model": ErrorOut, "description": "the member may not do this"},
    409: {"model": ErrorOut, "description": "conflicts with what is stored"},
}
