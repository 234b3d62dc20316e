"""``transformer-mt translate``: exactly one output line per input line, whatever the input."""

from __future__ import annotations

import re

import pytest

from cli.toy_data import ToyRun, assert_user_error, invoke

NBEST_LINE = re.compile(r"(\d+) \|\|\| (.*) \|\|\| (-?\d+\.\d{4})")


def output_lines(stdout: bytes) -> list[str]:
    """Lines of the output, which must end with a newline; only ``\\n`` separates lines."""
    text = stdout.decode("utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


def translate(toy_run: ToyRun, stdin: bytes, *args: str) -> tuple[list[str], str]:
    result = invoke(["translate", str(toy_run.run_dir), "--beam-size", "1", *args], stdin)
    assert result.exit_code == 0, (result.stderr, result.exception)
    return output_lines(result.stdout_bytes), result.stderr


def test_one_line_per_input_line_and_empty_stays_empty(toy_run: ToyRun) -> None:
    lines, stderr = translate(toy_run, b"i like tea\n\nyou see a big red car\n   \ndog\n")
    assert len(lines) == 5
    assert lines[1] == "" and lines[3] == ""  # empty and blank lines give empty lines
    assert all(lines[i] for i in (0, 2, 4))
    assert "warning" not in stderr


def test_input_without_final_newline_and_crlf(toy_run: ToyRun) -> None:
    lines, _ = translate(toy_run, b"i like tea\r\nyou drink water")
    assert len(lines) == 2
    expected, _ = translate(toy_run, b"i like tea\nyou drink water\n")
    assert lines == expected


@pytest.mark.parametrize(
    "line",
    [
        "tab\there nul\x00 bell\x07 escape\x1b[31m form\x0cfeed",
        "vertical\x0btab and carriage\rreturn",
        "line\u2028separator next\x85line paragraph\u2029end",
        "\x1c\x1d\x1e",  # separators Python counts as whitespace: a blank line
        "🍵 tea 😀 dog 👩‍👩‍👧",
        "مرحبا بالعالم",
        "שלום עולם i like tea",
        "zero\u200bwidth \ufeffbom \u202eright-to-left override",
    ],
)
def test_unusual_characters_give_exactly_one_output_line(toy_run: ToyRun, line: str) -> None:
    stdin = f"i like tea\n{line}\ndog\n".encode()
    lines, stderr = translate(toy_run, stdin)
    assert len(lines) == 3
    assert "\r" not in "".join(lines)
    alone, _ = translate(toy_run, b"i like tea\ndog\n")
    assert [lines[0], lines[2]] == alone  # the neighbours are not disturbed
    assert "Traceback" not in stderr


def test_long_line_is_truncated_with_a_warning_naming_it(toy_run: ToyRun) -> None:
    long_line = ("tea cat dog " * 834)[:10_000]
    lines, stderr = translate(toy_run, f"i like tea\n{long_line}\ndog\n".encode())
    assert len(lines) == 3
    assert lines[1]
    assert "warning: line 2: longer than the model's limit of 63 tokens; truncated" in stderr
    assert "line 1" not in stderr and "line 3" not in stderr


def test_invalid_utf8_is_replaced_with_a_warning(toy_run: ToyRun) -> None:
    stdin = b"i like tea\nbad \xff\xfe bytes dog\n\xed\xa0\x80\ndog\n"
    lines, stderr = translate(toy_run, stdin)
    assert len(lines) == 4
    assert "warning: stdin line 2: invalid UTF-8 (byte 0xff); replaced with U+FFFD" in stderr
    assert "warning: stdin line 3: invalid UTF-8 (byte 0xed)" in stderr  # an encoded surrogate
    alone, _ = translate(toy_run, "i like tea\nbad \ufffd\ufffd bytes dog\n".encode())
    assert lines[:2] == alone


def test_n_best_lists(toy_run: ToyRun) -> None:
    lines, _ = translate(
        toy_run, b"i like tea\n\nyou see the dog\n", "--n-best", "3", "--beam-size", "3"
    )
    assert len(lines) == 9  # three candidates for every input line, the empty one included
    parsed = [NBEST_LINE.fullmatch(line) for line in lines]
    assert all(parsed), lines
    indices = [int(m.group(1)) for m in parsed if m]
    assert indices == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    for index in (0, 2):
        scores = [float(m.group(3)) for m in parsed if m and int(m.group(1)) == index]
        assert scores == sorted(scores, reverse=True)
        texts = [m.group(2) for m in parsed if m and int(m.group(1)) == index]
        assert len(set(texts)) == 3  # distinct hypotheses
    assert [m.group(2) for m in parsed[3:6] if m] == ["", "", ""]

    best, _ = translate(toy_run, b"i like tea\n\nyou see the dog\n", "--beam-size", "3")
    assert [parsed[0].group(2), "", parsed[6].group(2)] == best  # type: ignore[union-attr]


def test_scores_column(toy_run: ToyRun) -> None:
    lines, _ = translate(toy_run, b"i like tea\n\ndog\n", "--scores")
    plain, _ = translate(toy_run, b"i like tea\n\ndog\n")
    assert len(lines) == 3
    fields = [line.split("\t") for line in lines]
    assert [text for text, _ in fields] == plain
    assert all(float(score) <= 0.0 for _, score in fields)
    assert fields[1] == ["", "0.0000"]


def test_sampling_is_reproducible_with_a_seed(toy_run: ToyRun) -> None:
    stdin = b"i like tea\nyou see the big dog\nwe eat rice\n"
    first, _ = translate(toy_run, stdin, "--sample", "--seed", "3", "--top-k", "5")
    again, _ = translate(toy_run, stdin, "--sample", "--seed", "3", "--top-k", "5")
    assert first == again
    assert len(first) == 3


def test_input_longer_than_one_chunk_keeps_order_and_line_numbers(toy_run: ToyRun) -> None:
    """Input is translated in chunks of 8 batches; output order and warnings span chunks."""
    sources = [("i like tea", "you see a big red car", "dog")[i % 3] for i in range(21)]
    sources[11] = "dog " * 3000  # line 12, in the second chunk of 8 lines
    stdin = "".join(line + "\n" for line in sources).encode()
    lines, stderr = translate(toy_run, stdin, "--batch-size", "1")
    assert len(lines) == 21
    assert "warning: line 12:" in stderr and stderr.count("warning") == 1
    whole, _ = translate(toy_run, stdin, "--batch-size", "64")  # one chunk
    assert lines == whole


@pytest.mark.parametrize("dtype", ["bf16", "int8"])
def test_dtype_and_token_budget_options(toy_run: ToyRun, dtype: str) -> None:
    """Other precisions still give one line per input; a token budget leaves fp32 unchanged."""
    text = b"i like tea\n\nyou see a big red car\ndog\n"
    expected, _ = translate(toy_run, text)
    budgeted, _ = translate(toy_run, text, "--max-tokens", "6")
    assert budgeted == expected
    lines, _ = translate(toy_run, text, "--dtype", dtype)
    assert len(lines) == 4 and lines[1] == "" and all(lines[i] for i in (0, 2, 3))


def test_the_default_guard_stops_a_token_three_times_in_a_row(toy_run: ToyRun) -> None:
    # The 60-step toy model stutters ("喜喜喜喜" for "i like tea"); every strategy's default
    # output has no token three times in a row, and --max-token-repeat 0 gives the model's own.
    lines = "i like tea\nyou see a big dog\nwe eat rice and fish today\n"
    pieces = ["translate", str(toy_run.run_dir)]
    for flags in ([], ["--beam-size", "1"], ["--sample", "--seed", "3"]):
        result = invoke([*pieces, *flags], lines)
        assert result.exit_code == 0, result.stderr
        assert not re.search(r"(.)\1\1", result.stdout), (flags, result.stdout)
    unguarded = invoke([*pieces, "--max-token-repeat", "0", "--no-repeat-chunk-size", "0"], lines)
    assert unguarded.exit_code == 0 and len(unguarded.stdout.splitlines()) == 3


def test_document_mode_translates_each_line_as_a_paragraph(toy_run: ToyRun) -> None:
    lines = "i like tea. you see a big dog.\n\nwe eat rice.\n"
    result = invoke(["translate", str(toy_run.run_dir), "--document"], lines)
    assert result.exit_code == 0, result.stderr
    output = result.stdout.splitlines()
    assert len(output) == 3 and output[1] == ""
    first = invoke(["translate", str(toy_run.run_dir)], "i like tea.\nyou see a big dog.\n")
    assert output[0] == "".join(first.stdout.splitlines())  # Chinese: joined without a space
    refused = invoke(["translate", str(toy_run.run_dir), "--document", "--n-best", "2"], lines)
    assert_user_error(refused, "--document gives one translation per paragraph")
