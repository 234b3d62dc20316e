"""Reading user corpora: every malformed input names its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from transformer_mt.data.readers import (
    decode_utf8_line,
    read_parallel,
    read_text_lines,
    read_tsv,
)
from transformer_mt.errors import DataError


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


# --- read_tsv -----------------------------------------------------------------------------


def test_tsv_reads_pairs_and_strips_bom_crlf_and_side_whitespace(tmp_path: Path) -> None:
    path = write(tmp_path / "c.tsv", "\ufeffHello\t你好\r\n  Bye  \t 再见 \r\n".encode())
    assert read_tsv(path) == [("Hello", "你好"), ("Bye", "再见")]


def test_tsv_without_final_newline(tmp_path: Path) -> None:
    assert read_tsv(write(tmp_path / "c.tsv", b"a\tb\nc\td")) == [("a", "b"), ("c", "d")]


def test_tsv_tolerates_one_empty_line_at_the_very_end(tmp_path: Path) -> None:
    assert read_tsv(write(tmp_path / "c.tsv", b"a\tb\n\n")) == [("a", "b")]


def test_tsv_empty_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "c.tsv", b"a\tb\n\nc\td\n")
    with pytest.raises(DataError, match=r"c\.tsv:2: empty line"):
        read_tsv(path)


@pytest.mark.parametrize(("row", "tabs"), [(b"no tab here", 0), (b"a\tb\tc", 2)])
def test_tsv_row_needs_exactly_one_tab(tmp_path: Path, row: bytes, tabs: int) -> None:
    path = write(tmp_path / "corpus.tsv", b"a\tb\n" + row + b"\n")
    with pytest.raises(DataError) as caught:
        read_tsv(path)
    assert str(caught.value) == (
        f"{path}:2: expected exactly one tab between source and target, found {tabs}"
    )
    assert caught.value.line == 2


def test_tsv_invalid_utf8_names_line_byte_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "corpus.tsv", b"a\tb\nc\td\n\xe4\xb8\xad\xff\tx\n")
    with pytest.raises(DataError) as caught:
        read_tsv(path)
    assert str(caught.value) == f"{path}:3: invalid UTF-8 (byte 0xff at column 2)"


@pytest.mark.parametrize(
    ("row", "problem"),
    [(b"\tb", "empty source side"), (b"a\t   ", "empty target side"), (b" \t b", "empty source")],
)
def test_tsv_empty_or_blank_side(tmp_path: Path, row: bytes, problem: str) -> None:
    path = write(tmp_path / "corpus.tsv", b"x\ty\n" + row + b"\n")
    with pytest.raises(DataError, match=rf"corpus\.tsv:2: {problem}"):
        read_tsv(path)


def test_tsv_skip_invalid_skips_and_reports_count_and_first_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "corpus.tsv", b"a\tb\nbad\nc\t\n\xff\tz\nd\te\n")
    messages: list[str] = []
    pairs = read_tsv(path, skip_invalid=True, report=messages.append)
    assert pairs == [("a", "b"), ("d", "e")]
    assert messages == [
        f"{path}: skipped 3 invalid rows (first: line 2: "
        "expected exactly one tab between source and target, found 0)"
    ]


def test_tsv_skip_invalid_is_silent_when_nothing_is_skipped(tmp_path: Path) -> None:
    messages: list[str] = []
    read_tsv(write(tmp_path / "c.tsv", b"a\tb\n"), skip_invalid=True, report=messages.append)
    assert messages == []


def test_tsv_without_any_valid_pair(tmp_path: Path) -> None:
    path = write(tmp_path / "corpus.tsv", b"only\none\n")
    with pytest.raises(DataError) as caught:
        read_tsv(path, skip_invalid=True, report=lambda _: None)
    assert str(caught.value) == f"{path}: no sentence pairs"
    empty = write(tmp_path / "empty.tsv", b"")
    with pytest.raises(DataError, match="no sentence pairs"):
        read_tsv(empty)


def test_tsv_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.tsv"
    with pytest.raises(DataError) as caught:
        read_tsv(path)
    assert str(caught.value) == f"{path}: no such file"


# --- read_parallel ------------------------------------------------------------------------


def test_parallel_reads_aligned_files(tmp_path: Path) -> None:
    source = write(tmp_path / "src.txt", b"\xef\xbb\xbfHello\r\nBye\r\n")
    target = write(tmp_path / "tgt.txt", "你好\n 再见 ".encode())
    assert read_parallel(source, target) == [("Hello", "你好"), ("Bye", "再见")]


def test_parallel_line_counts_must_match(tmp_path: Path) -> None:
    source = write(tmp_path / "src.txt", b"a\nb\nc\n")
    target = write(tmp_path / "tgt.txt", b"x\ny\n")
    with pytest.raises(DataError) as caught:
        read_parallel(source, target)
    assert str(caught.value) == (
        f"{source}: has 3 lines but {target} has 2; the files must be line-aligned"
    )


def test_parallel_final_empty_line_does_not_count(tmp_path: Path) -> None:
    source = write(tmp_path / "src.txt", b"a\nb\n\n")
    target = write(tmp_path / "tgt.txt", b"x\ny")
    assert read_parallel(source, target) == [("a", "x"), ("b", "y")]


def test_parallel_empty_side_names_its_own_file(tmp_path: Path) -> None:
    source = write(tmp_path / "src.txt", b"a\nb\nc\n")
    target = write(tmp_path / "tgt.txt", b"x\n  \nz\n")
    with pytest.raises(DataError) as caught:
        read_parallel(source, target)
    assert str(caught.value) == f"{target}:2: empty target side"


def test_parallel_invalid_utf8_names_its_own_file(tmp_path: Path) -> None:
    source = write(tmp_path / "src.txt", b"a\nab\xc3(\n")
    target = write(tmp_path / "tgt.txt", b"x\ny\n")
    with pytest.raises(DataError) as caught:
        read_parallel(source, target)
    assert str(caught.value) == f"{source}:2: invalid UTF-8 (byte 0xc3 at column 3)"


def test_parallel_skip_invalid_drops_both_sides(tmp_path: Path) -> None:
    source = write(tmp_path / "src.txt", b"a\n\nc\nd\n")
    target = write(tmp_path / "tgt.txt", b"w\nx\n\ny\n")
    messages: list[str] = []
    pairs = read_parallel(source, target, skip_invalid=True, report=messages.append)
    assert pairs == [("a", "w"), ("d", "y")]
    assert messages == [
        f"{source} + {target}: skipped 2 invalid rows (first: {source} line 2: empty source side)"
    ]


def test_parallel_missing_file(tmp_path: Path) -> None:
    source = write(tmp_path / "src.txt", b"a\n")
    with pytest.raises(DataError) as caught:
        read_parallel(source, tmp_path / "nope.txt")
    assert str(caught.value) == f"{tmp_path / 'nope.txt'}: no such file"


# --- read_text_lines and decode_utf8_line -------------------------------------------------


def test_text_lines_keep_empty_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "in.txt", b"\xef\xbb\xbffirst\r\n\n  third \n\n")
    assert read_text_lines(path) == ["first", "", "third", ""]


def test_text_lines_invalid_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "in.txt", b"ok\n\x80\n")
    with pytest.raises(DataError, match=r"in\.txt:2: invalid UTF-8 \(byte 0x80 at column 1\)"):
        read_text_lines(path)


def test_text_lines_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_text_lines(tmp_path / "none.txt")


def test_decode_utf8_line_counts_columns_in_characters() -> None:
    assert decode_utf8_line("中文".encode(), "f", 1) == "中文"
    with pytest.raises(DataError) as caught:
        decode_utf8_line("中文".encode() + b"\xfe", "f.txt", 7)
    assert str(caught.value) == "f.txt:7: invalid UTF-8 (byte 0xfe at column 3)"
