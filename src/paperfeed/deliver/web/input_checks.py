"""What every request's input must be, checked once for all routes, and how a refusal
reads.

* :func:`refuse_nul` is a dependency ``create_app`` gives every router: a NUL character
  anywhere in the path, the query, a form field or a JSON string (keys included) is
  refused with 400 before any handler runs. PostgreSQL cannot store NUL in text, and
  SQLite would keep it and make the database impossible to copy to PostgreSQL, so
  it is refused on both.
* :func:`validation_message` turns FastAPI's validation errors into one sentence; bad
  input is always 400 (``InvalidInputError``'s status), never 422.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from fastapi import Request

from paperfeed.errors import InvalidInputError

NUL = "\x00"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _strings(value: object, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a parsed JSON value (keys and values) with where it was."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield where, str(key)
            yield from _strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]" if where else f"[{index}]")


def _refuse(where: str) -> InvalidInputError:
    return InvalidInputError(f"{where} contains a NUL character, which is not allowed")


async def refuse_nul(request: Request) -> None:
    """Refuse a NUL in the path, the query string, a form or a JSON body (400)."""
    if NUL in request.url.path:
        raise _refuse("the address")
    for name, value in request.query_params.multi_items():
        if NUL in name or NUL in value:
            raise _refuse(f"the query parameter {name.replace(NUL, '')!r}")
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in _FORM_TYPES:
        form = await request.form()
        for name, field in form.multi_items():
            if NUL in name or (isinstance(field, str) and NUL in field):
                raise _refuse(f"the form field {name.replace(NUL, '')!r}")
        return
    body = await request.body()
    if not body:
        return
    if b"\x00" in body:
        raise _refuse("the request body")
    if kind == "application/json" or kind.endswith("+json"):
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return  # FastAPI answers the syntax error itself
        for where, text in _strings(parsed, ""):
            if NUL in text:
                raise _refuse(f"the JSON field {where!r}" if where else "the JSON body")


def _where(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "form", "header")]
    return ".".join(parts)


def validation_message(problems: Sequence[Mapping[str, Any]]) -> str:
    """One sentence for the first of FastAPI's validation errors."""
    if not problems:
        return "invalid request"
    first = problems[0]
    loc = tuple(first.get("loc", ()))
    if first.get("type") == "json_invalid":
        detail = str(first.get("ctx", {}).get("error", "")).strip() or "syntax error"
        position = next((p for p in reversed(loc) if isinstance(p, int)), None)
        at = f" (at character {position})" if position is not None else ""
        return f"the body is not valid JSON: {detail}{at}"
    message = str(first.get("msg", "invalid value"))
    if first.get("type") == "model_attributes_type" and not _where(loc):
        return "the body must be a JSON object"
    where = _where(loc)
    return f"{where}: {message}" if where else message
