"""The WordPiece tokenizer of all-MiniLM-L6-v2, shared by both bundled embedders.

The tokenizer is the model's own ``tokenizer.json`` (BERT uncased WordPiece, 30,522
tokens), shipped inside this package as ``models/minilm-tokenizer.json`` so nothing
is downloaded at run time. The file is kept byte-for-byte as published; its baked-in
settings (truncate at 128, pad to a fixed 128) are replaced here by each embedder's
own: truncation at its cap and no padding, since the embedders pad per batch.
"""

from __future__ import annotations

from importlib.resources import files

from tokenizers import Tokenizer

TOKENIZER_RESOURCE = "models/minilm-tokenizer.json"
PAD_ID = 0
UNK_ID = 100
CLS_ID = 101
SEP_ID = 102
MASK_ID = 103
#: Ids that carry no meaning of their own in a text's bag of tokens.
SPECIAL_IDS = frozenset({PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID})


def load_wordpiece(max_tokens: int) -> Tokenizer:
    """The bundled tokenizer, truncating to ``max_tokens`` (special tokens included), unpadded.

    Each call returns a new object: the settings are fixed here, once, and never changed
    afterwards, so an embedder may share its tokenizer between threads.
    """
    text = files("paperfeed.index").joinpath(TOKENIZER_RESOURCE).read_text(encoding="utf-8")
    tokenizer = Tokenizer.from_str(text)
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer
