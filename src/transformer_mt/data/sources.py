"""Which files make up one split of a user corpus, and their pairs read one at a time.

A split is given in the config as

- ``train.tsv`` (``source<TAB>target`` rows), or a glob pattern of such files (``train-*.tsv.gz``);
- ``[train.en, train.zh]``: two line-aligned files; each may be a glob pattern, the sorted
  matches then pair up one to one;
- a list of the above, for several files: ``[[a.en, a.zh], [b.tsv], c.tsv.gz]`` (an item that is
  itself a list; a TSV file can be written as a one-item list).

Any file may be gzip-compressed (named ``*.gz``).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from transformer_mt.data.pairs import SentencePair
from transformer_mt.data.readers import SkipLog, iter_parallel, iter_tsv
from transformer_mt.data.store import file_digest
from transformer_mt.errors import DataError, UserError

FileSpec = str | Sequence[str] | Sequence[str | Sequence[str]] | None


@dataclass(frozen=True)
class CorpusPart:
    """One file of ``source<TAB>target`` rows (``target`` None) or two line-aligned files."""

    source: Path
    target: Path | None = None

    @property
    def files(self) -> list[Path]:
        return [self.source] if self.target is None else [self.source, self.target]

    def pairs(self, skipped: SkipLog | None, *, allow_empty: bool) -> Iterator[SentencePair]:
        if self.target is None:
            return iter_tsv(self.source, skipped, allow_empty=allow_empty)
        return iter_parallel(self.source, self.target, skipped, allow_empty=allow_empty)

    @property
    def label(self) -> str:
        return str(self.source) if self.target is None else f"{self.source} + {self.target}"


def corpus_parts(spec: FileSpec) -> list[CorpusPart]:
    """The parts a split's spec names, globs expanded (in sorted order).

    Raises:
        UserError: a malformed spec. DataError: a pattern that matches no file.
    """
    if spec is None:
        return []
    if isinstance(spec, str):
        return [CorpusPart(path) for path in _expanded(spec)]
    items = list(spec)
    if len(items) == 2 and all(isinstance(item, str) for item in items):
        sources, targets = _expanded(str(items[0])), _expanded(str(items[1]))
        if len(sources) != len(targets):
            raise DataError(
                items[0], None, f"matches {len(sources)} files but {items[1]} {len(targets)}"
            )
        return [CorpusPart(s, t) for s, t in zip(sources, targets, strict=True)]
    if items and all(isinstance(item, (str, list, tuple)) for item in items):
        parts = []
        for item in items:
            nested = item if isinstance(item, str) or len(item) != 1 else item[0]
            parts.extend(corpus_parts(nested))
        return parts
    raise UserError(f"expected a TSV path, [source_file, target_file] or a list of them: {spec}")


def iter_split(
    parts: Sequence[CorpusPart], skipped: SkipLog | None, *, allow_empty: bool = False
) -> Iterator[SentencePair]:
    """Every pair of the parts in order (see :meth:`CorpusPart.pairs`)."""
    for part in parts:
        yield from part.pairs(skipped, allow_empty=allow_empty)


def _expanded(pattern: str) -> list[Path]:
    if not glob.has_magic(pattern):
        return [Path(pattern)]
    matches = sorted(glob.glob(pattern))
    if not matches:
        raise DataError(pattern, None, "no file matches this pattern")
    return [Path(match) for match in matches]


@dataclass(frozen=True)
class InputFile:
    """A corpus file as the store's key sees it: its content digest, and the size and time
    that let a later check skip re-hashing an unchanged file."""

    path: str
    bytes: int
    mtime_ns: int
    blake2b: str

    @classmethod
    def of(cls, path: Path) -> InputFile:
        status = _stat(path)
        return cls(str(path), status.st_size, status.st_mtime_ns, _content_digest(path))

    def unchanged(self) -> bool:
        """Same content as recorded (re-hashed only when size or time differ)."""
        try:
            status = os.stat(self.path)
        except OSError:
            return False
        if (status.st_size, status.st_mtime_ns) == (self.bytes, self.mtime_ns):
            return True
        return status.st_size == self.bytes and _content_digest(Path(self.path)) == self.blake2b


def _stat(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise DataError(path, None, "no such file") from None
    except OSError as error:
        raise DataError(path, None, f"cannot read file ({error.strerror})") from None


def _content_digest(path: Path) -> str:
    try:
        return file_digest(path)
    except IsADirectoryError:
        raise DataError(path, None, "is a directory, expected a file") from None
    except OSError as error:
        raise DataError(path, None, f"cannot read file ({error.strerror})") from None
