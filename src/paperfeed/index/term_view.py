"""A tf-idf view of papers' words: the second feature set of the recommendation model
and the source of its explanations' terms (like arxiv-sanity-lite's SVM words).

The vectorizer follows arxiv-sanity-lite's (unigrams and bigrams, English stopwords,
sublinear tf, at most 20,000 terms), except that on corpora under
:data:`SMALL_CORPUS` papers every word may count (its ``min_df=5, max_df=0.1`` would
leave a small hub without words).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

SMALL_CORPUS = 500
MAX_TERMS = 20_000


@dataclass(frozen=True)
class TermView:
    matrix: sparse.csr_matrix  # (n, v), l2-normalised rows
    vocabulary: tuple[str, ...]


def vectorizer(n: int) -> TfidfVectorizer:
    small = n < SMALL_CORPUS
    return TfidfVectorizer(
        strip_accents="unicode",
        lowercase=True,
        analyzer="word",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",  # noqa: S106 (not a password)
        ngram_range=(1, 2),
        max_features=MAX_TERMS,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        sublinear_tf=True,
        max_df=1.0 if small else 0.1,
        min_df=1 if small else 5,
    )


def fit_terms(texts: Sequence[str]) -> TermView | None:
    """The tf-idf view of these texts, or None when they hold no usable word."""
    if not texts:
        return None
    vec = vectorizer(len(texts))
    try:
        matrix = vec.fit_transform(texts)
    except ValueError:  # an empty vocabulary (nothing but stopwords and numbers)
        return None
    return TermView(sparse.csr_matrix(matrix), tuple(vec.get_feature_names_out()))
