"""The query syntax: parsed exactly, and no string a user types crashes a search."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from paperfeed.errors import InvalidQueryError
from paperfeed.index.lexical import database as lexical
from paperfeed.index.query import fts5_match, parse_query


def test_syntax_is_parsed() -> None:
    q = parse_query(
        'diffusion feed-forward "exact phrase" -bad -"worse thing" author:"Ada Lovelace" '
        "author:Turing cat:cs.LG cat:math after:2026-01-01 before:2026-02-01 the"
    )
    assert q.terms == ("diffusion", "feed forward")
    assert q.phrases == ("exact phrase",)
    assert q.excluded == ("bad", "worse thing")
    assert q.authors == ("Ada Lovelace", "Turing")
    assert q.categories == ("cs.LG", "math")
    assert (q.after, q.before) == (date(2026, 1, 1), date(2026, 2, 1))
    assert q.semantic_text == "exact phrase diffusion feed forward"


def test_fts5_expression_quotes_every_unit() -> None:
    q = parse_query('C++ NEAR(a b) "x" -y OR AND')
    assert fts5_match(q) == '(("c" OR "near a" OR "b") AND "x") NOT "y"'


def test_stopwords_are_dropped_unless_nothing_else_is_left() -> None:
    assert parse_query("a study of the attention").terms == ("study", "attention")
    assert parse_query("the").terms == ("the",)


def test_unknown_prefixes_are_text() -> None:
    assert parse_query("foo:bar").terms == ("foo bar",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("after:yesterday", "after: expected a date as YYYY-MM-DD"),
        ("before:2026-02-30", "before: 2026-02-30 is not a real date"),
        ("after:2026-03-01 before:2026-02-01", "is later than"),
        ("x" * 1001, "too long"),
        (" ".join(f"w{i}" for i in range(65)), "at most 64"),
    ],
)
def test_invalid_queries_say_why(text: str, message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        parse_query(text)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=200))
def test_no_string_crashes_the_lexical_search(engine: Engine, text: str) -> None:
    try:
        query = parse_query(text)
    except InvalidQueryError:
        return
    with engine.connect() as conn:
        hits = lexical.search(conn, query, limit=5)
    assert hits == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                '"',
                "-",
                ":",
                "(",
                ")",
                "*",
                "^",
                "NEAR",
                "AND",
                "OR",
                "NOT",
                "author:",
                "cat:",
                "a",
                "é",
                "'",
                "\\",
                "%",
                "_",
                "{",
                "}",
            ]
        ),
        max_size=20,
    )
)
def test_operator_soup_parses_or_fails_cleanly(parts: list[str]) -> None:
    text = " ".join(parts)
    try:
        query = parse_query(text)
    except InvalidQueryError:
        return
    expression = fts5_match(query)
    assert expression is None or expression.count('"') % 2 == 0
