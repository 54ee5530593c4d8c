"""The one JSON error envelope (``{ok: false, error, status}``) and the error answers the
API documents (bad input is always 400): :data:`ERRORS` for reads, :data:`WRITE_ERRORS`
for the community's writes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class ErrorOut(BaseModel):
    ok: Literal[False] = False
    error: str
    status: int


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "invalid input"},
    404: {"model": ErrorOut, "description": "not found"},
}

WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    401: {"model": ErrorOut, "description": "no valid API token"},
    403: {"model": ErrorOut, "description": "the member may not do this"},
    409: {"model": ErrorOut, "description": "conflicts with what is stored"},
}
