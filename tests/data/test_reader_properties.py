"""Property-based tests of the corpus readers against hostile files.

Properties, for arbitrary bytes in the files (invalid UTF-8, NUL bytes, lone ``\\r``, BOMs,
tabs, empty and huge lines):

* ``read_tsv``, ``read_parallel`` and ``read_text_lines`` either return what a small reference
  parser (written here from the documented line conventions) gives, or raise
  :class:`DataError` whose one-line message starts with ``path:line:`` for the first bad line
  (``path:`` for a whole-file problem: no pairs, differing line counts).
* With ``skip_invalid=True`` no per-line problem raises: the pairs kept plus the rows the one
  summary line reports as skipped add up to the file's lines, and only a file with no valid
  row at all is an error (``path: no sentence pairs``).
* Files written from arbitrary valid pairs (no tab or newline, not blank) read back as the
  same pairs, stripped, whatever the line endings, BOM and final newline.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from transformer_mt.data.pairs import SentencePair
from transformer_mt.data.readers import read_parallel, read_text_lines, read_tsv
from transformer_mt.errors import DataError

BOM = b"\xef\xbb\xbf"

# Pieces that make lines interesting; joined in any order they give every kind of bad row.
PIECES = [
    b"\t",
    b"\n",
    b"\r",
    b"\r\n",
    b"\x00",
    BOM,
    b" ",
    b"a",
    "你好".encode(),
    b"\xff",  # never valid UTF-8
    b"\xe4\xb8",  # a truncated 3-byte sequence
    b"\xc0\x80",  # an overlong NUL
    b"\xed\xa0\x80",  # an encoded surrogate
    "\u2028\x85\x1c".encode(),  # separators that str.splitlines would split at
]
hostile_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=8)), max_size=40).map(b"".join),
    st.sampled_from([b"", b"\n", b"\r\n", BOM, BOM + b"\n", b"a" * 200_000 + b"\tb\n" * 2]),
)
# Valid text for one side: no tab or newline, not blank, not starting with a BOM (which at the
# start of a file is the file's, not the text's).
sentences = st.text(
    st.characters(blacklist_characters="\t\n", blacklist_categories=["Cs"]), min_size=1, max_size=30
).filter(lambda text: text.strip() != "" and not text.startswith("\ufeff"))
hostile_lines = st.lists(st.sampled_from([p for p in PIECES if b"\n" not in p]), max_size=6).map(
    b"".join
)

Layout = tuple[str, bool, bool]  # line ending, BOM, final newline
layouts = st.tuples(st.sampled_from(["\n", "\r\n"]), st.booleans(), st.booleans())


def lay_out(lines: list[bytes], layout: Layout) -> bytes:
    newline, bom, final = layout
    end = newline.encode()
    return (BOM if bom else b"") + end.join(lines) + (end if final else b"")


def side_lines(valid_share: int = 3) -> st.SearchStrategy[bytes]:
    """Lines of one side: mostly a valid sentence, sometimes a hostile line."""
    valid = sentences.map(str.encode)
    return st.one_of(*[valid] * valid_share, hostile_lines)


tsv_rows = st.one_of(
    st.tuples(sentences, sentences).map(lambda pair: "\t".join(pair).encode()),
    st.tuples(sentences, sentences).map(lambda pair: "\t".join(pair).encode()),
    hostile_lines,
)
# Whole files: arbitrary bytes, or mostly valid rows with some bad ones in any layout.
tsv_files = st.one_of(
    hostile_bytes,
    st.builds(lay_out, st.lists(tsv_rows, max_size=8), layouts),
)
text_files = st.one_of(
    hostile_bytes, st.builds(lay_out, st.lists(side_lines(), max_size=8), layouts)
)
aligned_files = st.builds(
    lambda pairs, layout: (
        lay_out([source for source, _ in pairs], layout),
        lay_out([target for _, target in pairs], layout),
    ),
    st.lists(st.tuples(side_lines(), side_lines()), max_size=8),
    layouts,
)
parallel_files = st.one_of(aligned_files, aligned_files, st.tuples(text_files, text_files))

QUICK = settings(max_examples=150)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readers")


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


# --- a reference parser, from the module's documented conventions -----------------------------


def raw_lines(content: bytes, *, drop_final_empty: bool) -> list[bytes]:
    """Lines without their ``\\n`` / ``\\r\\n`` ending; the BOM removed from the first."""
    lines = content.split(b"\n")
    if lines[-1] == b"":  # the text after the last newline: no line
        lines.pop()
    lines = [line.removesuffix(b"\r") for line in lines]
    if lines:
        lines[0] = lines[0].removeprefix(BOM)
    if drop_final_empty and lines and lines[-1] == b"":
        lines.pop()
    return lines


def decodes(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def side(raw: bytes | str) -> str | None:
    """The stripped sentence, or ``None`` where the line is not one."""
    if isinstance(raw, bytes):
        if not decodes(raw):
            return None
        raw = raw.decode("utf-8")
    return raw.strip() or None


def tsv_row(raw: bytes) -> SentencePair | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.count("\t") != 1:
        return None
    source, target = (side(part) for part in text.split("\t"))
    return None if source is None or target is None else (source, target)


# --- checks -----------------------------------------------------------------------------------


def check_error(error: DataError, paths: list[Path], line_count: int) -> None:
    """A one-line message naming a file and, for a line's problem, the line."""
    message = str(error)
    assert len(message.splitlines()) == 1, f"multi-line message: {message!r}"
    assert error.path in paths or str(error.path) in map(str, paths)
    if error.line is None:
        assert message.startswith(f"{error.path}: ")
    else:
        assert 1 <= error.line <= line_count
        assert message.startswith(f"{error.path}:{error.line}: ")


class Reports:
    """Collects what a reader passes to ``report``."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def skipped(self) -> int:
        """The count in the one summary line (0 without one)."""
        assert len(self.lines) <= 1
        if not self.lines:
            return 0
        assert len(self.lines[0].splitlines()) == 1, self.lines
        found = re.search(r": skipped (\d+) invalid rows \(first: ", self.lines[0])
        assert found, self.lines[0]
        return int(found.group(1))


def outcome(read: Callable[[], list[SentencePair]]) -> list[SentencePair] | DataError:
    """What ``read`` returns or raises; the kind is logged for ``--hypothesis-show-statistics``."""
    try:
        pairs = read()
    except DataError as error:
        event("error: " + ("whole file" if error.line is None else "a line"))
        return error
    event("read")
    return pairs


# --- read_tsv ---------------------------------------------------------------------------------


@QUICK
@given(content=tsv_files)
def test_tsv_reads_like_the_reference_or_names_the_first_bad_line(
    workdir: Path, content: bytes
) -> None:
    path = write(workdir / "corpus.tsv", content)
    lines = raw_lines(content, drop_final_empty=True)
    rows = [tsv_row(line) for line in lines]
    result = outcome(lambda: read_tsv(path))
    if isinstance(result, DataError):
        check_error(result, [path], len(lines))
        if None in rows:
            assert result.line == rows.index(None) + 1
        else:
            assert result.line is None and not rows and result.problem == "no sentence pairs"
    else:
        assert result == rows


@QUICK
@given(content=tsv_files)
def test_tsv_skipping_keeps_or_counts_every_line(workdir: Path, content: bytes) -> None:
    path = write(workdir / "corpus.tsv", content)
    lines = raw_lines(content, drop_final_empty=True)
    valid = [row for row in map(tsv_row, lines) if row is not None]
    reports = Reports()
    result = outcome(lambda: read_tsv(path, skip_invalid=True, report=reports))
    assert reports.skipped() == len(lines) - len(valid)
    if isinstance(result, DataError):
        check_error(result, [path], len(lines))
        assert (result.line, result.problem, valid) == (None, "no sentence pairs", [])
    else:
        assert result == valid


# --- read_parallel ----------------------------------------------------------------------------


@QUICK
@given(files=parallel_files, skip_invalid=st.booleans())
def test_parallel_files_read_like_the_reference(
    workdir: Path, files: tuple[bytes, bytes], skip_invalid: bool
) -> None:
    source, target = files
    paths = [write(workdir / "corpus.en", source), write(workdir / "corpus.zh", target)]
    source_lines = raw_lines(source, drop_final_empty=True)
    target_lines = raw_lines(target, drop_final_empty=True)
    sides = [(side(s), side(t)) for s, t in zip(source_lines, target_lines, strict=False)]
    valid = [(s, t) for s, t in sides if s is not None and t is not None]
    reports = Reports()
    result = outcome(lambda: read_parallel(*paths, skip_invalid=skip_invalid, report=reports))
    line_count = max(len(source_lines), len(target_lines))
    if len(source_lines) != len(target_lines):
        assert isinstance(result, DataError)
        check_error(result, paths, line_count)
        assert result.line is None and "line-aligned" in result.problem
        return
    skipped = len(sides) - len(valid)
    assert reports.skipped() == (skipped if skip_invalid else 0)
    if isinstance(result, DataError):
        check_error(result, paths, line_count)
        if skipped and not skip_invalid:
            first = next(i for i, pair in enumerate(sides) if None in pair)
            assert result.line == first + 1
            assert result.path == paths[0 if sides[first][0] is None else 1]
        else:
            assert (result.line, result.problem, valid) == (None, "no sentence pairs", [])
    else:
        assert result == valid


# --- read_text_lines --------------------------------------------------------------------------


@QUICK
@given(content=text_files)
def test_text_lines_keep_every_line_or_name_the_undecodable_one(
    workdir: Path, content: bytes
) -> None:
    path = write(workdir / "input.txt", content)
    lines = raw_lines(content, drop_final_empty=False)
    try:
        result = read_text_lines(path)
    except DataError as error:
        check_error(error, [path], len(lines))
        assert error.line is not None and error.problem.startswith("invalid UTF-8")
        assert error.line == next(i for i, line in enumerate(lines, 1) if not decodes(line))
    else:
        assert result == [line.decode("utf-8").strip() for line in lines]


# --- round trips ------------------------------------------------------------------------------


@QUICK
@given(pairs=st.lists(st.tuples(sentences, sentences), min_size=1, max_size=8), layout=layouts)
def test_valid_pairs_round_trip_through_a_tsv_file(
    workdir: Path, pairs: list[SentencePair], layout: Layout
) -> None:
    content = lay_out([f"{s}\t{t}".encode() for s, t in pairs], layout)
    path = write(workdir / "round.tsv", content)
    assert read_tsv(path) == [(s.strip(), t.strip()) for s, t in pairs]


@QUICK
@given(pairs=st.lists(st.tuples(sentences, sentences), min_size=1, max_size=8), layout=layouts)
def test_valid_pairs_round_trip_through_two_files(
    workdir: Path, pairs: list[SentencePair], layout: Layout
) -> None:
    source = write(workdir / "round.en", lay_out([s.encode() for s, _ in pairs], layout))
    target = write(workdir / "round.zh", lay_out([t.encode() for _, t in pairs], layout))
    assert read_parallel(source, target) == [(s.strip(), t.strip()) for s, t in pairs]
