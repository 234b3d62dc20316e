"""Read user-supplied parallel and monolingual text files, with strict validation.

Every problem is reported as a :class:`~transformer_mt.errors.DataError` naming the file and the
1-based line, so a user can jump straight to the bad row. Files are read as bytes and decoded
line by line, which lets an invalid UTF-8 sequence be pinned to its line and column.

Line conventions shared by all readers: a UTF-8 byte-order mark at the start of a file is
ignored, ``\\r\\n`` line endings are accepted, and surrounding whitespace of each sentence is
stripped. For sentence-pair files one completely empty line at the very end is tolerated (an
editor's extra newline); an empty line anywhere else is an error.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from transformer_mt.data.pairs import SentencePair
from transformer_mt.errors import DataError

PathLike = str | os.PathLike[str]
Report = Callable[[str], None]

_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"


def decode_utf8_line(raw: bytes, path: PathLike, lineno: int) -> str:
    """Decode one line of a file as UTF-8.

    Raises:
        DataError: ``invalid UTF-8 (byte 0x.. at column N)`` where N is the 1-based character
            column of the first undecodable byte.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        column = len(raw[: error.start].decode("utf-8")) + 1
        bad_byte = raw[error.start]
        problem = f"invalid UTF-8 (byte 0x{bad_byte:02x} at column {column})"
        if lineno == 1 and raw.startswith(_GZIP_MAGIC):
            problem += "; it looks gzip-compressed: name it *.gz"
        raise DataError(path, lineno, problem) from None


def read_tsv(
    path: PathLike, *, skip_invalid: bool = False, report: Report = print
) -> list[SentencePair]:
    """Read ``source<TAB>target`` rows, one sentence pair per line.

    Args:
        path: the file to read.
        skip_invalid: skip bad rows instead of raising; their count and the first problem are
            passed to ``report`` once at the end.
        report: receives the one-line summary of skipped rows.

    Raises:
        DataError: for the first bad row (unless ``skip_invalid``), a missing file, or a file
            without any valid pair.
    """
    skipped = SkipLog(with_file=False)
    pairs = list(iter_tsv(path, skipped if skip_invalid else None))
    skipped.report(report, f"{path}")
    if not pairs:
        raise DataError(path, None, "no sentence pairs")
    return pairs


def iter_tsv(
    path: PathLike, skipped: SkipLog | None = None, *, allow_empty: bool = False
) -> Iterator[SentencePair]:
    """The pairs of a TSV file one by one (see :func:`read_tsv`); a bad row raises, or is
    counted in ``skipped`` when one is given. ``allow_empty``: a side that is empty or only
    whitespace is passed on as ``""`` (for the cleaning to count) instead of being an error."""
    for lineno, raw in iter_raw_lines(path, drop_final_empty=True):
        try:
            yield _parse_tsv_row(raw, path, lineno, allow_empty)
        except DataError as error:
            if skipped is None:
                raise
            skipped.add(error)


def read_parallel(
    source_path: PathLike,
    target_path: PathLike,
    *,
    skip_invalid: bool = False,
    report: Report = print,
) -> list[SentencePair]:
    """Read two line-aligned files: line ``i`` of the target translates line ``i`` of the source.

    Args:
        source_path: one source sentence per line.
        target_path: one target sentence per line, same number of lines.
        skip_invalid: skip a pair when either side is bad; the count and the first problem are
            passed to ``report`` once at the end.
        report: receives the one-line summary of skipped pairs.

    Raises:
        DataError: for differing line counts, the first bad line (naming its own file), a
            missing file, or no valid pair at all.
    """
    skipped = SkipLog(with_file=True)
    pairs = list(iter_parallel(source_path, target_path, skipped if skip_invalid else None))
    skipped.report(report, f"{source_path} + {target_path}")
    if not pairs:
        raise DataError(source_path, None, "no sentence pairs")
    return pairs


def iter_parallel(
    source_path: PathLike,
    target_path: PathLike,
    skipped: SkipLog | None = None,
    *,
    allow_empty: bool = False,
) -> Iterator[SentencePair]:
    """The pairs of two line-aligned files one by one (see :func:`read_parallel`, and
    :func:`iter_tsv` for ``skipped`` and ``allow_empty``)."""
    source_count = _count_lines(source_path)
    target_count = _count_lines(target_path)
    if source_count != target_count:
        problem = (
            f"has {source_count} lines but {target_path} has {target_count}; "
            "the files must be line-aligned"
        )
        raise DataError(source_path, None, problem)
    source_lines = iter_raw_lines(source_path, drop_final_empty=True)
    target_lines = iter_raw_lines(target_path, drop_final_empty=True)
    for (lineno, raw_source), (_, raw_target) in zip(source_lines, target_lines, strict=True):
        try:
            source = _parse_side(raw_source, source_path, lineno, "source", allow_empty)
            target = _parse_side(raw_target, target_path, lineno, "target", allow_empty)
        except DataError as error:
            if skipped is None:
                raise
            skipped.add(error)
            continue
        yield source, target


def read_text_lines(path: PathLike) -> list[str]:
    """Read a monolingual file: one stripped sentence per line, empty lines kept as ``""``.

    Every newline-terminated line counts, so ``"a\\n\\n"`` gives ``["a", ""]``.

    Raises:
        DataError: for invalid UTF-8 or a missing file.
    """
    return [
        decode_utf8_line(raw, path, lineno).strip()
        for lineno, raw in iter_raw_lines(path, drop_final_empty=False)
    ]


def _parse_tsv_row(raw: bytes, path: PathLike, lineno: int, allow_empty: bool) -> SentencePair:
    text = decode_utf8_line(raw, path, lineno)
    if not text.strip():
        raise DataError(path, lineno, "empty line (expected source<TAB>target)")
    tabs = text.count("\t")
    if tabs != 1:
        problem = f"expected exactly one tab between source and target, found {tabs}"
        raise DataError(path, lineno, problem)
    source, target = text.split("\t")
    return (
        _checked_side(source, path, lineno, "source", allow_empty),
        _checked_side(target, path, lineno, "target", allow_empty),
    )


def _parse_side(raw: bytes, path: PathLike, lineno: int, side: str, allow_empty: bool) -> str:
    return _checked_side(decode_utf8_line(raw, path, lineno), path, lineno, side, allow_empty)


def _checked_side(text: str, path: PathLike, lineno: int, side: str, allow_empty: bool) -> str:
    text = text.strip()
    if not text and not allow_empty:
        raise DataError(path, lineno, f"empty {side} side")
    return text


def _count_lines(path: PathLike) -> int:
    return sum(1 for _ in iter_raw_lines(path, drop_final_empty=True))


def iter_raw_lines(path: PathLike, *, drop_final_empty: bool) -> Iterator[tuple[int, bytes]]:
    """Yield ``(lineno, line)`` with the BOM and the ``\\n`` / ``\\r\\n`` ending removed."""
    pending: tuple[int, bytes] | None = None
    lineno = 0
    with _open_binary(path) as stream:
        try:
            for lineno, line in enumerate(stream, start=1):
                if lineno == 1 and line.startswith(_BOM):
                    line = line[len(_BOM) :]
                line = line.removesuffix(b"\n").removesuffix(b"\r")
                if pending is not None:
                    yield pending
                pending = (lineno, line)
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:
            problem = f"corrupt gzip data after line {lineno} ({error}); is the file complete?"
            raise DataError(path, None, problem) from None
    if pending is not None and not (drop_final_empty and pending[1] == b""):
        yield pending


def _open_binary(path: PathLike) -> BinaryIO:
    """The file's bytes; a ``*.gz`` file is decompressed (by its name: a text file may start
    with any bytes, and an invalid one must stay an invalid-UTF-8 error naming its line)."""
    try:
        if str(path).lower().endswith(".gz"):
            return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile reads bytes
        return open(path, "rb")
    except FileNotFoundError:
        raise DataError(path, None, "no such file") from None
    except IsADirectoryError:
        raise DataError(path, None, "is a directory, expected a file") from None
    except OSError as error:
        raise DataError(path, None, f"cannot read file ({error.strerror})") from None


@dataclass
class SkipLog:
    """Counts skipped rows and remembers the first problem for the summary line."""

    with_file: bool = True  # name the file in the first problem (two-file corpora)
    count: int = 0
    first: str = field(default="")

    def add(self, error: DataError) -> None:
        if self.count == 0:
            where = f"{error.path} line {error.line}" if self.with_file else f"line {error.line}"
            self.first = f"{where}: {error.problem}"
        self.count += 1

    def report(self, report: Report, label: str) -> None:
        if self.count:
            report(f"{label}: skipped {self.count} invalid rows (first: {self.first})")
