"""Data: reading user corpora, the built-in Tatoeba dataset, and SentencePiece tokenizers."""

from __future__ import annotations

from transformer_mt.data.pairs import SentencePair, Splits
from transformer_mt.data.readers import decode_utf8_line, read_parallel, read_text_lines, read_tsv
from transformer_mt.data.tatoeba import (
    BUILTIN_DATASETS,
    TATOEBA_CREDIT,
    TatoebaRow,
    load_builtin,
    load_tatoeba_rows,
    split_rows,
    tatoeba_path,
)
from transformer_mt.data.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer

__all__ = [
    "BOS_ID",
    "BUILTIN_DATASETS",
    "EOS_ID",
    "PAD_ID",
    "TATOEBA_CREDIT",
    "UNK_ID",
    "SentencePair",
    "Splits",
    "TatoebaRow",
    "Tokenizer",
    "decode_utf8_line",
    "load_builtin",
    "load_tatoeba_rows",
    "read_parallel",
    "read_text_lines",
    "read_tsv",
    "split_rows",
    "tatoeba_path",
]
