"""A list of ids as one statement parameter (``ids``), each statement built once per engine.

SQLite: ``column IN (...)`` with an expanding parameter (SQLAlchemy renders a placeholder
per id on each call). PostgreSQL: ``column = ANY(:ids)``, one array parameter: the
statement's text is the same whatever the number of ids, so SQLAlchemy renders it once,
psycopg parses it once and prepares it on the server after a few calls, where a list of
20-300 placeholders (each cast to INTEGER) was rendered, parsed and planned anew on every
call of a search (about a millisecond of CPU, and a server-side parse, each time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import ARRAY, ColumnElement, Connection, Integer, any_, bindparam

#: The parameter's name in every statement built here.
IDS = "ids"

T = TypeVar("T")


def id_in(column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the ``ids`` parameter's (see the module docstring)."""
    if dialect == "postgresql":
        return column == any_(bindparam(IDS, type_=ARRAY(Integer)))
    return column.in_(bindparam(IDS, expanding=True))


class PerDialect(Generic[T]):
    """A statement ``build(dialect_name)`` makes, built on first use for each dialect and
    kept (so SQLAlchemy's compiled cache finds it again)."""

    def __init__(self, build: Callable[[str], T]) -> None:
        self._build = build
        self._built: dict[str, T] = {}

    def __call__(self, conn: Connection) -> T:
        name = conn.dialect.name
        statement = self._built.get(name)
        if statement is None:
            statement = self._built.setdefault(name, self._build(name))
        return statement
