"""Where a run's sentence pairs come from: the built-in dataset or the user's files."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from transformer_mt.data.pairs import SentencePair, Splits
from transformer_mt.data.readers import read_parallel, read_tsv
from transformer_mt.data.tatoeba import load_builtin
from transformer_mt.errors import UserError

FileSpec = str | Sequence[str] | None


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
    """A TSV path (``source<TAB>target``) or a ``[source_file, target_file]`` pair."""
    if spec is None:
        return []
    if isinstance(spec, str):
        return read_tsv(spec, skip_invalid=skip_invalid, report=report)
    files = list(spec)
    if len(files) != 2:
        raise UserError(f"expected a TSV path or [source_file, target_file], got {files}")
    return read_parallel(files[0], files[1], skip_invalid=skip_invalid, report=report)


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
