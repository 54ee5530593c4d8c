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

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
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
from paperfeed.store.schema import papers
from tests_support import seed_hf

NOW = datetime(2026, 6, 13, 16, 0, tzinfo=UTC)  # the day after the fixture's daily list

#: Every operation of /openapi.json (pages are left out of the schema on purpose).
OPERATIONS = (
    "GET /api/daily_papers",
    "GET /api/papers/search",
    "GET /api/papers/{paper_id}",
    "GET /api/papers/{paper_id}/similar",
    "GET /feeds/daily.{fmt}",
    "GET /feeds/trending.{fmt}",
    "GET /feeds/category/{category}.{fmt}",
    "GET /feeds/search.{fmt}",
    "GET /healthz",
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

BOUNDED = settings(
    max_examples=50,
    deadline=None,
    # One module-scoped app serves every example; generation may be slow on big schemas.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


class Api:
    """The schema as the app serves it, and real values to aim generated requests at."""

    def __init__(self, schema: Any, arxiv_ids: list[str]) -> None:
        self.schema = schema
        self.arxiv_ids = arxiv_ids
        self._strategies: dict[tuple[str, GenerationMode, bool], st.SearchStrategy[Any]] = {}

    def operation(self, label: str) -> Any:
        method, path = label.split(" ", 1)
        return self.schema[path][method]

    def strategy(self, label: str, mode: GenerationMode, real: bool) -> st.SearchStrategy[Any]:
        """Cases for one operation; ``real`` fixes the path's paper id to a stored paper."""
        key = (label, mode, real)
        if key not in self._strategies:
            operation = self.operation(label)
            base = operation.as_strategy(generation_mode=mode)
            if real and "{paper_id}" in label:
                base = st.sampled_from(self.arxiv_ids).flatmap(
                    lambda pid: operation.as_strategy(
                        generation_mode=mode, path_parameters={"paper_id": pid}
                    )
                )
            self._strategies[key] = base
        return self._strategies[key]


@pytest.fixture(scope="module")
def api(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("api-schema")
    db = folder / "paperfeed.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    seed_hf(engine, FrozenClock(NOW))
    with engine.connect() as conn:
        arxiv_ids = sorted(conn.execute(select(papers.c.arxiv_id)).scalars())
    engine.dispose()
    app = create_app(load_settings(database_url=url, index_dir=str(folder), frozen_time=NOW))
    yield Api(schemathesis.openapi.from_asgi("/openapi.json", app), arxiv_ids)


def test_every_operation_is_exercised(api: Api) -> None:
    labels = {op.ok().label for op in api.schema.get_all_operations()}
    assert labels == set(OPERATIONS)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("label", OPERATIONS)
@BOUNDED
@given(data=st.data())
def test_operation_conforms(api: Api, label: str, mode: GenerationMode, data: Any) -> None:
    real = mode is GenerationMode.POSITIVE and data.draw(st.booleans(), label="real paper id")
    case = data.draw(api.strategy(label, mode, real), label="case")
    case.call_and_validate(checks=CHECKS)
