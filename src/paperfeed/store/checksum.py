"""Checksums of tables that mean the same on SQLite and PostgreSQL.

Each row becomes one canonical text (every value tagged with its kind and written the
same way whichever engine returned it: datetimes in UTC ISO 8601 with microseconds,
floats as exact hex, bytes as hex, JSON with sorted keys, booleans as ``true``/``false``),
and the table's digest is the sum of the rows' SHA-256 values modulo 2^256. A sum does not
depend on the order rows come back in (engines sort strings differently), needs no
memory beyond one row, and any changed, lost or duplicated row changes it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, select

_MODULUS = 1 << 256
#: Rows fetched per round trip while summing.
_FETCH = 5000


@dataclass(frozen=True, slots=True)
class TableDigest:
    """A table's row count and order-independent digest (hex)."""

    rows: int
    digest: str

    def as_dict(self) -> dict[str, object]:
        return {"rows": self.rows, "digest": self.digest}


def canonical(value: Any) -> str:
    """One value as tagged text, identical for the same value from either engine."""
    if value is None:
        return "n"
    if isinstance(value, bool):
        return "b:true" if value else "b:false"
    if isinstance(value, int):
        return f"i:{value}"
    if isinstance(value, float):
        if math.isnan(value):
            return "f:nan"
        return f"f:{value.hex()}"
    if isinstance(value, Decimal):
        return f"m:{value.normalize()}"
    if isinstance(value, str):
        return f"s:{value}"
    if isinstance(value, bytes | bytearray | memoryview):
        return f"x:{bytes(value).hex()}"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return f"t:{value.isoformat(timespec='microseconds')}"
    if isinstance(value, date):
        return f"d:{value.isoformat()}"
    if isinstance(value, time):
        return f"h:{value.isoformat(timespec='microseconds')}"
    if isinstance(value, dict | list | tuple):
        return "j:" + json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    raise TypeError(f"no canonical form for {type(value).__name__}")


def row_hash(values: Sequence[Any]) -> int:
    text = json.dumps([canonical(v) for v in values], ensure_ascii=False, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")


def digest_rows(
    rows: Iterable[Sequence[Any]], check: Callable[[], None] | None = None
) -> TableDigest:
    """``check`` runs every few thousand rows (it may raise to stop the sum)."""
    count = 0
    total = 0
    for row in rows:
        total = (total + row_hash(row)) % _MODULUS
        count += 1
        if check is not None and count % _FETCH == 0:
            check()
    return TableDigest(count, f"{total:064x}")


def table_digest(
    conn: Connection, table: Table, check: Callable[[], None] | None = None
) -> TableDigest:
    """The digest of every row of ``table`` (the schema's columns, in its order)."""
    result = conn.execution_options(stream_results=True, yield_per=_FETCH).execute(
        select(*table.columns)
    )
    return digest_rows(result, check)
