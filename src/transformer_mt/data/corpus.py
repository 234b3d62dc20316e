"""Where a run's sentence pairs come from: the built-in dataset or the user's files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from transformer_mt.data.pairs import SentencePair, Splits
from transformer_mt.data.readers import read_parallel, read_tsv
from transformer_mt.data.sources import FileSpec, corpus_parts
from transformer_mt.data.tatoeba import load_builtin


def default_cache_dir() -> Path:
    """``$TRANSFORMER_MT_CACHE`` or ``$XDG_CACHE_HOME/transformer-mt`` (``~/.cache/...``)."""
    explicit = os.environ.get("TRANSFORMER_MT_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "transformer-mt"


def read_pairs(
    spec: FileSpec, *, skip_invalid: bool = False, report: Callable[[str], None] = print
) -> list[SentencePair]:
    """The pairs of a split's files (see :mod:`~transformer_mt.data.sources` for the forms: a
    TSV path, ``[source_file, target_file]``, glob patterns, a list of them; gzip or not)."""
    pairs: list[SentencePair] = []
    for part in corpus_parts(spec):
        if part.target is None:
            pairs += read_tsv(part.source, skip_invalid=skip_invalid, report=report)
        else:
            pairs += read_parallel(
                part.source, part.target, skip_invalid=skip_invalid, report=report
            )
    return pairs


def load_splits(
    *,
    dataset: str | None,
    direction: str,
    train: FileSpec = None,
    valid: FileSpec = None,
    test: FileSpec = None,
    skip_invalid: bool = False,
    report: Callable[[str], None] = print,
) -> Splits:
    """Train/valid/test pairs from a built-in dataset, or from the user's files."""
    if dataset is not None:
        return load_builtin(dataset, direction=direction, cache_dir=default_cache_dir())
    return Splits(
        train=read_pairs(train, skip_invalid=skip_invalid, report=report),
        valid=read_pairs(valid, skip_invalid=skip_invalid, report=report),
        test=read_pairs(test, skip_invalid=skip_invalid, report=report),
    )
