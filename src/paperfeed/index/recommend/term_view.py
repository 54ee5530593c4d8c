"""A tf-idf view of papers' words: the second feature set of the recommendation model
and the source of its explanations' terms (like arxiv-sanity-lite's SVM words).

The vectorizer follows arxiv-sanity-lite's (unigrams and bigrams, English stopwords,
sublinear tf, at most 20,000 terms), except that on corpora under
:data:`SMALL_CORPUS` papers every word may count (its ``min_df=5, max_df=0.1`` would
leave a small hub without words). Above :data:`FIT_SAMPLE` papers the vocabulary and the
idf are fitted on a fixed sample of them (a full fit of 100 k abstracts with bigrams takes
~45 s and ~2 GB for the vocabulary it counts before pruning); every paper is then
transformed with it, and so are papers added later (:func:`transform_terms`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # scikit-learn and scipy take seconds to import: only when fitting
    import numpy as np
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

SMALL_CORPUS = 500
MAX_TERMS = 20_000
#: Papers the vocabulary and idf are fitted on, at most (a fixed sample of larger corpora).
FIT_SAMPLE = 50_000


@dataclass(frozen=True)
class TermView:
    matrix: sparse.csr_matrix  # (n, v), l2-normalised rows
    vocabulary: tuple[str, ...]
    vectorizer: TfidfVectorizer  # fitted: makes the rows of papers added later


def vectorizer(n: int) -> TfidfVectorizer:
    from sklearn.feature_extraction.text import TfidfVectorizer

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
    import numpy as np
    from scipy import sparse

    if not texts:
        return None
    vec = vectorizer(len(texts))
    fit_on = texts
    if len(texts) > FIT_SAMPLE:
        picked = np.random.default_rng(len(texts)).choice(len(texts), FIT_SAMPLE, replace=False)
        fit_on = [texts[i] for i in np.sort(picked)]
    try:
        vec.fit(fit_on)
    except ValueError:  # an empty vocabulary (nothing but stopwords and numbers)
        return None
    matrix = vec.transform(texts)
    return TermView(sparse.csr_matrix(matrix), tuple(vec.get_feature_names_out()), vec)


def restore_vectorizer(
    fitted_on: int, vocabulary: Sequence[str], idf: np.ndarray
) -> TfidfVectorizer:
    """The vectorizer fitted on ``fitted_on`` papers, made again from its terms and idf (as
    the feature files keep them): its rows are the fitted one's."""
    vec = vectorizer(fitted_on)
    vec.set_params(vocabulary={term: i for i, term in enumerate(vocabulary)})
    vec.idf_ = idf
    return vec


def transform_terms(vec: TfidfVectorizer, texts: Sequence[str]) -> sparse.csr_matrix:
    """Rows of more texts in a fitted view's terms (l2-normalised)."""
    from scipy import sparse

    return sparse.csr_matrix(vec.transform(list(texts)))
