"""Splits made of several files, glob patterns and gzip-compressed files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from transformer_mt.data.corpus import read_pairs
from transformer_mt.data.readers import SkipLog
from transformer_mt.data.sources import CorpusPart, corpus_parts, iter_split
from transformer_mt.errors import DataError

PAIRS = [("Hello", "你好"), ("Bye", "再见"), ("Tea", "茶")]


def tsv(path: Path, pairs: list[tuple[str, str]], *, compressed: bool = False) -> Path:
    data = "".join(f"{s}\t{t}\n" for s, t in pairs).encode()
    path.write_bytes(gzip.compress(data) if compressed else data)
    return path


def parallel(prefix: Path, pairs: list[tuple[str, str]], compressed: bool) -> list[str]:
    files = []
    for index, suffix in enumerate((".en", ".zh")):
        data = "".join(pair[index] + "\n" for pair in pairs).encode()
        path = prefix.with_suffix(suffix + (".gz" if compressed else ""))
        path.write_bytes(gzip.compress(data) if compressed else data)
        files.append(str(path))
    return files


def test_gzip_tsv_and_gzip_parallel_read_like_plain_files(tmp_path: Path) -> None:
    assert read_pairs(str(tsv(tmp_path / "a.tsv.gz", PAIRS, compressed=True))) == PAIRS
    assert read_pairs(parallel(tmp_path / "b", PAIRS, compressed=True)) == PAIRS


def test_gzip_without_the_gz_name_is_an_error_that_says_so(tmp_path: Path) -> None:
    path = tsv(tmp_path / "plain-name.tsv", PAIRS, compressed=True)
    with pytest.raises(DataError, match=r":1: invalid UTF-8 .*looks gzip-compressed: name it"):
        read_pairs(str(path))


def test_several_files_per_split_in_order(tmp_path: Path) -> None:
    first = parallel(tmp_path / "one", PAIRS[:1], compressed=False)
    second = tsv(tmp_path / "two.tsv", PAIRS[1:2])
    third = tsv(tmp_path / "three.tsv.gz", PAIRS[2:], compressed=True)
    spec = [first, [str(second)], str(third)]
    assert read_pairs(spec) == PAIRS
    assert [part.target is None for part in corpus_parts(spec)] == [False, True, True]


def test_glob_patterns_pair_up_in_sorted_order(tmp_path: Path) -> None:
    parallel(tmp_path / "part1", PAIRS[:2], compressed=True)
    parallel(tmp_path / "part2", PAIRS[2:], compressed=False)
    parts = corpus_parts([str(tmp_path / "part*.en*"), str(tmp_path / "part*.zh*")])
    assert [p.source.name for p in parts] == ["part1.en.gz", "part2.en"]
    assert list(iter_split(parts, None)) == PAIRS
    with pytest.raises(DataError, match="no file matches this pattern"):
        corpus_parts(str(tmp_path / "missing-*.tsv"))


def test_malformed_gzip_line_keeps_the_file_line_message(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv.gz"
    path.write_bytes(gzip.compress(b"a\tb\nno tab\n"))
    with pytest.raises(DataError) as caught:
        read_pairs(str(path))
    assert (
        str(caught.value)
        == f"{path}:2: expected exactly one tab between source and target, found 0"
    )
    skipped = SkipLog(with_file=False)
    assert list(CorpusPart(path).pairs(skipped, allow_empty=False)) == [("a", "b")]
    assert skipped.count == 1


def test_truncated_gzip_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.tsv.gz"
    data = gzip.compress("".join(f"{i}\t{i}\n" for i in range(5000)).encode())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"corrupt gzip data after line .*is the file complete"):
        read_pairs(str(path))


def test_empty_sides_pass_to_the_cleaning_only_when_allowed(tmp_path: Path) -> None:
    path = tsv(tmp_path / "e.tsv", [("a", "b"), ("c", " ")])
    assert list(CorpusPart(path).pairs(None, allow_empty=True)) == [("a", "b"), ("c", "")]
    with pytest.raises(DataError, match=r"e\.tsv:2: empty target side"):
        list(CorpusPart(path).pairs(None, allow_empty=False))
