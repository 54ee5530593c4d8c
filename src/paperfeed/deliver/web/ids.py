"""The path parameter that names a stored row: a positive integer the databases hold
(a larger one is refused with 400 instead of overflowing the INTEGER column)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

RowId = Annotated[int, Path(ge=1, le=2**31 - 1, description="a number on this hub")]
