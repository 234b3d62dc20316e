"""``translate --prefix``, ``--constraints`` and ``--alignments`` on the trained toy run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cli.toy_data import ToyRun, assert_user_error, invoke
from transformer_mt.decoding.pieces import split_words

SOURCES = b"i like tea\n\nyou see the big red car\nwe eat rice today\n"
PHARAOH = re.compile(r"(\d+-\d+( \d+-\d+)*)?")


def run(toy_run: ToyRun, *args: str, stdin: bytes = SOURCES) -> list[str]:
    result = invoke(["translate", str(toy_run.run_dir), *args], stdin)
    assert result.exit_code == 0, (result.stderr, result.exception)
    return result.stdout_bytes.decode("utf-8").splitlines()


def test_an_inline_prefix_starts_every_output(toy_run: ToyRun) -> None:
    lines = run(toy_run, "--prefix", "他们")
    assert lines[1] == ""  # an empty line stays empty
    assert all(lines[i].startswith("他们") for i in (0, 2, 3))


def test_a_prefix_file_gives_each_line_its_own(toy_run: ToyRun, tmp_path: Path) -> None:
    prefixes = tmp_path / "prefixes.txt"
    prefixes.write_text("我们\n\n你\n\n", encoding="utf-8")
    lines = run(toy_run, "--prefix", f"@{prefixes}")
    plain = run(toy_run)
    assert lines[0].startswith("我们") and lines[2].startswith("你")
    assert lines[3] == plain[3]  # an empty prefix line: no prefix
    assert run(toy_run, "--prefix", str(prefixes)) == lines  # a file's path works too


def test_constraints_inline_and_from_a_file(toy_run: ToyRun, tmp_path: Path) -> None:
    lines = run(toy_run, "--constraints", "鱼", "--constraints", "鸟\t狗", "--beam-size", "5")
    assert all(all(t in lines[i] for t in "鱼鸟狗") for i in (0, 2, 3))
    terms = tmp_path / "terms.tsv"
    terms.write_text("鱼\n\n鸟\t狗\n\n", encoding="utf-8")
    lines = run(toy_run, "--constraints", f"@{terms}")
    assert "鱼" in lines[0] and "鸟" in lines[2] and "狗" in lines[2]
    assert lines[3] == run(toy_run)[3]


def test_alignments_in_pharaoh_format(toy_run: ToyRun) -> None:
    lines = run(toy_run, "--alignments")
    for source, line in zip(SOURCES.decode().splitlines(), lines, strict=True):
        text, alignment = line.split(" ||| ")
        assert PHARAOH.fullmatch(alignment)
        pairs = [tuple(map(int, pair.split("-"))) for pair in alignment.split()]
        assert sorted({j for _, j in pairs}) == list(range(len(split_words(text))))
        assert all(i < len(source.split()) for i, _ in pairs)
    nbest = run(toy_run, "--alignments", "--n-best", "2", "--scores")
    assert len(nbest) == 8 and all(len(line.split(" ||| ")) == 4 for line in nbest)
    scored = run(toy_run, "--alignments", "--scores")
    assert [line.split("\t")[0] for line in scored] == lines


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--constraints", ""], ("line 1: empty constraint",)),
        (["--constraints", "鱼\t"], ("empty constraint",)),
        (["--constraints", "鱼" * 40], ("line 1", "over the output limit")),
        (["--prefix", "我" * 40], ("line 1", "the prefix is 41 tokens")),
        (["--prefix", "   "], ("tokenizes to nothing",)),
        (["--constraints", "鱼", "--sample"], ("not sampling",)),
        (["--constraints", "鱼", "--beam-size", "1"], ("beam_size of at least 2",)),
        (["--constraints", "鱼\t鸟\t车\t书"], ("beam_size of at least 5",)),
        (["--prefix", "@/nonexistent/prefixes.txt"], ("--prefix: no such file",)),
        (["--document", "--constraints", "鱼"], ("--document",)),
    ],
)
def test_bad_controls_are_one_error_line(
    toy_run: ToyRun, args: list[str], fragments: tuple[str, ...]
) -> None:
    assert_user_error(invoke(["translate", str(toy_run.run_dir), *args], SOURCES), *fragments)


def test_a_control_file_must_match_the_input(toy_run: ToyRun, tmp_path: Path) -> None:
    short = tmp_path / "short.txt"
    short.write_text("我\n", encoding="utf-8")
    result = invoke(["translate", str(toy_run.run_dir), "--prefix", f"@{short}"], SOURCES)
    assert_user_error(result, "has 1 lines, fewer than the input")
    long = tmp_path / "long.tsv"
    long.write_text("鱼\n" * 6, encoding="utf-8")
    result = invoke(["translate", str(toy_run.run_dir), "--constraints", f"@{long}"], SOURCES)
    # Known only at the end of the input: the translations are out, then the error.
    assert result.exit_code == 2 and len(result.stdout.splitlines()) == 4
    assert result.stderr.strip().splitlines() == [
        f"error: --constraints file {long} has 6 lines but the input has 4"
    ]
