"""The JSON API and the feeds keep the promises of their own ``/openapi.json``.

Schemathesis reads the description the app serves and generates requests for every
operation, valid ones (positive) and ones that break the declared constraints
(negative), against the app itself (ASGI, no socket) over a database holding the
30 real Hugging Face fixture papers with their MiniLM vectors, so lists, lookups
and searches answer with real papers. Every response is checked: no server error,
a documented status code, a documented content type, a body matching the
documented schema.

Why not ``@schema.parametrize()`` with ``schemathesis.pytest.from_fixture``:
schemathesis 4.32 rewrites ``request.node._nodeid``, which pytest 9.2 no longer
has (AttributeError). The operations are listed here instead, and
:func:`test_every_operation_is_exercised` keeps the list equal to the schema's.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis

# Loaded here, at collection, not lazily inside from_asgi: pytest rewrites schemathesis'
# modules (it is a pytest plugin) with ast.parse, and CPython 3.11 keeps the AST
# recursion depth per interpreter, not per thread: a parse racing one in another thread (the
# app's background threads) can fail with "SystemError: AST constructor recursion depth
# mismatch", as all 58 cases once did in a full run.
import schemathesis.specs.openapi.schemas
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.deliver.app import create_app
from paperfeed.store.engine import make_engine
from paperfeed.store.tables.papers import papers
from tests_support import NewDatabase, seed_hf

# Generated requests against every operation: minutes, so outside `make test-fast`.
pytestmark = pytest.mark.slow

NOW = datetime(2026, 6, 13, 16, 0, tzinfo=UTC)  # the day after the fixture's daily list

#: Every operation of /openapi.json (pages are left out of the schema on purpose).
OPERATIONS = (
    "GET /api/daily_papers",
    "GET /api/papers/search",
    "GET /api/papers/{paper_id}",
    "GET /api/papers/{paper_id}/similar",
    "GET /api/pf/daily_papers",
    "GET /api/pf/papers/search",
    "GET /feeds/daily.{fmt}",
    "GET /feeds/trending.{fmt}",
    "GET /feeds/category/{category}.{fmt}",
    "GET /feeds/search.{fmt}",
    "GET /feeds/authors/{name}.{fmt}",
    "GET /healthz",
    "POST /api/papers/{paper_id}/upvote",
    "POST /api/papers/submit",
    "POST /api/papers/{paper_id}/comments",
    "GET /api/papers/{paper_id}/comments",
    "GET /api/collections",
    "POST /api/collections",
    "GET /api/collections/{collection_id}",
    "DELETE /api/collections/{collection_id}",
    "POST /api/collections/{collection_id}/papers",
    "DELETE /api/collections/{collection_id}/papers/{paper_id}",
    "GET /feeds/collections/{collection_id}.{fmt}",
    "POST /api/papers/{paper_id}/hide",
    "POST /api/comments/{comment_id}/hide",
    "POST /api/subscriptions",
    "GET /api/me/recommendations",
    "POST /api/me/not-interested/{paper_id}",
    "GET /feeds/for-you/{token}.atom",
)
WITHOUT_PARAMETERS = {"GET /healthz"}

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

BOUNDED = settings(
    max_examples=50,
    deadline=None,
    # A case can take tens of milliseconds to answer (a search embeds its query).
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # The same cases on every run and machine: a failure in CI reproduces locally.
    derandomize=True,
)


class Api:
    """The schema as the app serves it, and real values to aim generated requests at."""

    def __init__(self, schema: Any, real: dict[str, list[str]]) -> None:
        self.schema = schema
        self.real = real  # path parameter -> values that name something that exists
        self._strategies: dict[tuple[str, GenerationMode, bool], st.SearchStrategy[Any]] = {}

    def strategy(self, label: str, mode: GenerationMode, real: bool) -> st.SearchStrategy[Any]:
        """Cases for one operation; with ``real``, its path parameters name stored things
        (a paper id, a feed format), so the request goes past the lookup."""
        key = (label, mode, real)
        if key not in self._strategies:
            method, path = label.split(" ", 1)
            operation = self.schema[path][method]
            names = [n for n in self.real if "{" + n + "}" in path] if real else []
            if names:
                fixed = st.fixed_dictionaries({n: st.sampled_from(self.real[n]) for n in names})
                strategy = fixed.flatmap(
                    lambda given: operation.as_strategy(generation_mode=mode, path_parameters=given)
                )
            else:
                strategy = operation.as_strategy(generation_mode=mode)
            self._strategies[key] = strategy
        return self._strategies[key]


@pytest.fixture(scope="module")
def api(new_database: NewDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("api-schema")
    url = new_database(folder)
    engine = make_engine(url)
    seed_hf(engine, FrozenClock(NOW))
    with engine.connect() as conn:
        arxiv_ids = sorted(conn.execute(select(papers.c.arxiv_id)).scalars())
    engine.dispose()
    app = create_app(load_settings(database_url=url, index_dir=str(folder), frozen_time=NOW))
    real = {"paper_id": arxiv_ids, "fmt": ["atom", "rss"], "category": ["cs", "cs.CV", "cs.CL"]}
    yield Api(schemathesis.openapi.from_asgi("/openapi.json", app), real)


def test_every_operation_is_exercised(api: Api) -> None:
    labels = {op.ok().label for op in api.schema.get_all_operations()}
    assert labels == set(OPERATIONS)


@pytest.mark.parametrize(
    ("label", "mode"),
    [
        (label, mode)
        for label in OPERATIONS
        for mode in GenerationMode
        # Invalid input needs a parameter to break.
        if mode is GenerationMode.POSITIVE or label not in WITHOUT_PARAMETERS
    ],
)
@BOUNDED
@given(data=st.data())
def test_operation_conforms(api: Api, label: str, mode: GenerationMode, data: Any) -> None:
    """No server error; status, content type and body as documented, for valid input
    (half of it aimed at stored papers) and for input that breaks the constraints."""
    real = mode is GenerationMode.POSITIVE and data.draw(st.booleans(), label="real names")
    case = data.draw(api.strategy(label, mode, real), label="case")
    case.call_and_validate(checks=CHECKS)
