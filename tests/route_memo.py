"""Analyse each route's signature once per test process, not once per app.

Since FastAPI 0.137 an app keeps its own copy of every route it includes and builds it on
the first request: it reads the endpoint's signature again and makes pydantic models and
validators for its parameters and form body (``get_dependant``, ``_get_body_field``).
A serving process builds one app, so it pays that once (about 0.15 s for paperfeed's 100
routes); the suite builds an app for each of some 200 tests, and this analysis was the
largest single cost of ``make test-fast``: 29 s of its 114 s of CPU.

The two functions are pure: the same path, endpoint and include-level dependencies give
the same analysis, which FastAPI itself already shares between apps for a route used
directly. So the suite remembers their results, keyed by exactly those inputs; each app
still builds its own routes, handlers and middleware from them, and nothing else is kept.
Where an input cannot be a key (a ``Security`` with a list of scopes, a dependency with
``max_concurrency``, whose limiter belongs to its declaration) the analysis runs as usual.

If a FastAPI release renames these private functions, :func:`install` changes nothing and
says so (the run's header line), and each app analyses its routes again: slower, still
correct. ``PAPERFEED_TEST_ROUTE_MEMO=0`` turns it off to rule it out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence
from typing import Any

ENV = "PAPERFEED_TEST_ROUTE_MEMO"


def _memo(original: Callable[..., Any], key: Callable[..., Hashable | None]) -> Any:
    kept: dict[Hashable, Any] = {}

    def remembered(**arguments: Any) -> Any:
        try:
            found = key(**arguments)
            hash(found)
        except TypeError:  # an input that cannot be a key: analyse as FastAPI does
            found = None
        if found is None:
            return original(**arguments)
        hit = kept.get(found)
        if hit is None:
            # the arguments are kept too, so the ids in a key stay theirs
            hit = kept[found] = (original(**arguments), arguments)
        return hit[0]

    remembered.__wrapped__ = original  # type: ignore[attr-defined]
    return remembered


def _dependant_key(*, path: str, call: Any, dependencies: Sequence[Any]) -> Hashable | None:
    if any(getattr(depends, "max_concurrency", None) is not None for depends in dependencies):
        return None
    return (path, call, tuple(dependencies))


def _body_key(*, body_params: Sequence[Any], name: str, embed_body_fields: bool) -> Hashable:
    return (tuple(map(id, body_params)), name, embed_body_fields)


def install() -> str:
    """Remember route analyses for the rest of this process; a line saying what it did."""
    if os.environ.get(ENV, "1") == "0":
        return f"route analysis: per app ({ENV}=0)"
    import fastapi.routing as routing

    names = ("_build_dependant_with_parameterless_dependencies", "_get_body_field")
    originals = [getattr(routing, name, None) for name in names]
    if any(original is None for original in originals):
        return "route analysis: per app (this FastAPI has other internals: tests/route_memo.py)"
    if hasattr(originals[0], "__wrapped__"):
        return "route analysis: once per process"
    build, body = originals
    routing._build_dependant_with_parameterless_dependencies = _memo(build, _dependant_key)  # type: ignore[attr-defined]
    routing._get_body_field = _memo(body, _body_key)  # type: ignore[attr-defined]
    return "route analysis: once per process (tests/route_memo.py)"
