"""``transformer-mt translate`` and ``transformer-mt evaluate``."""

from __future__ import annotations

import io
import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from transformer_mt.cli.common import user_errors
from transformer_mt.errors import UserError

if TYPE_CHECKING:
    from transformer_mt.decoding.translator import Translation


def decoding_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The search options shared by translate and evaluate."""
    options = [
        click.option("--beam-size", default=4, show_default=True, help="1 = greedy search."),
        click.option(
            "--length-penalty",
            default=1.0,
            show_default=True,
            help="Beam score = log-prob / length**penalty.",
        ),
        click.option("--sample", is_flag=True, help="Sample tokens instead of searching."),
        click.option("--temperature", default=1.0, show_default=True, help="With --sample."),
        click.option("--top-k", default=0, show_default=True, help="With --sample; 0 = off."),
        click.option("--top-p", default=1.0, show_default=True, help="With --sample; 1 = off."),
        click.option("--seed", default=0, show_default=True, help="Random seed for --sample."),
        click.option("--batch-size", default=64, show_default=True, help="Sentences per batch."),
        click.option(
            "--max-tokens",
            type=int,
            default=None,
            help="Also cap each batch at this many padded source tokens.",
        ),
        click.option("--device", default="cpu", show_default=True, help="cpu | cuda | auto."),
        click.option(
            "--weights",
            type=click.Path(dir_okay=False),
            help="Weights file to use instead of RUN_DIR/model.safetensors (e.g. an average).",
        ),
        click.option(
            "--dtype",
            type=click.Choice(["fp32", "bf16", "int8"]),
            default="fp32",
            show_default=True,
            help="Weights in fp32, bf16, or int8 (dynamically quantized linear layers, CPU).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _search_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    keys = ("beam_size", "length_penalty", "sample", "temperature", "top_k", "top_p", "seed")
    values = {key: options[key] for key in keys}
    values["batch_size"] = options["batch_size"]
    values["max_tokens"] = options["max_tokens"]
    if values["beam_size"] < 1:
        raise UserError(f"--beam-size must be at least 1, got {values['beam_size']}")
    if values["batch_size"] < 1:
        raise UserError(f"--batch-size must be at least 1, got {values['batch_size']}")
    if values["max_tokens"] is not None and values["max_tokens"] < 1:
        raise UserError(f"--max-tokens must be at least 1, got {values['max_tokens']}")
    if values["temperature"] <= 0:
        raise UserError(f"--temperature must be positive, got {values['temperature']}")
    if not 0 < values["top_p"] <= 1:
        raise UserError(f"--top-p must be in (0, 1], got {values['top_p']}")
    return values


def _stdin_lines() -> Iterator[str]:
    """Lines of standard input as they arrive; invalid UTF-8 bytes become U+FFFD, with a warning."""
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            click.echo(
                f"warning: stdin line {number}: invalid UTF-8 (byte 0x{raw[error.start]:02x}); "
                "replaced with U+FFFD",
                err=True,
            )
            text = raw.decode("utf-8", errors="replace")
        yield text.rstrip("\r\n")


def _chunks(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    """Consecutive groups of ``size`` lines: output streams out while input is still arriving."""
    while chunk := list(itertools.islice(lines, size)):
        yield chunk


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


def _write_result(
    out: TextIO, index: int, result: Translation, *, n_best: int, scores: bool
) -> None:
    if n_best > 1:
        for candidate in result.candidates:
            out.write(f"{index} ||| {_one_line(candidate.text)} ||| {candidate.score:.4f}\n")
        if not result.candidates:  # an empty input line still gets its K (empty) lines
            out.write(f"{index} |||  ||| 0.0000\n" * n_best)
    elif scores:
        score = result.candidates[0].score if result.candidates else 0.0
        out.write(f"{_one_line(result.text)}\t{score:.4f}\n")
    else:
        out.write(_one_line(result.text) + "\n")


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@decoding_options
@click.option("--n-best", default=1, show_default=True, help="Candidates per sentence.")
@click.option("--scores", is_flag=True, help="Append the score (TAB-separated).")
@user_errors
def translate(run_dir: str, n_best: int, scores: bool, **options: Any) -> None:
    """Translate standard input, one sentence per line, to standard output.

    One output line per input line; an empty line gives an empty line. Sources longer than the
    model's limit are truncated with a warning on stderr. With --n-best K > 1 each input line
    gives K lines "INDEX ||| TRANSLATION ||| SCORE" (INDEX counts input lines from 0).

    \b
    Examples:
      echo "Hello world" | transformer-mt translate runs/quickstart
      transformer-mt translate runs/quickstart --beam-size 1 < input.en > output.zh
      transformer-mt translate runs/quickstart --sample --top-p 0.9 --seed 7 < input.en
      transformer-mt translate runs/quickstart --dtype int8 --max-tokens 4096 < input.en
    """
    from transformer_mt.decoding.translator import Translator
    from transformer_mt.runtime import configure_cpu

    configure_cpu(None)
    search = _search_kwargs(options)
    if n_best < 1 or (n_best > search["beam_size"] and not search["sample"]):
        raise UserError(f"--n-best must be between 1 and --beam-size ({search['beam_size']})")
    translator = Translator.load(
        run_dir, device=options["device"], weights=options["weights"], dtype=options["dtype"]
    )
    # Always UTF-8, whatever the terminal's locale: Chinese output must never fail to encode.
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n", write_through=False)
    first = 0  # index of the chunk's first line
    # A few batches per chunk (sorting by length within a chunk keeps padding low); typed at a
    # terminal, each line is answered at once.
    chunk_size = 1 if sys.stdin.isatty() else 8 * search["batch_size"]
    for lines in _chunks(_stdin_lines(), chunk_size):
        try:
            results = translator.translate_detailed(lines, n_best=n_best, **search)
        except ValueError as error:
            raise UserError(str(error)) from None
        for index, result in enumerate(results, start=first):
            if result.truncated:
                click.echo(
                    f"warning: line {index + 1}: longer than the model's limit of "
                    f"{translator.max_source_tokens - 1} tokens; truncated",
                    err=True,
                )
            _write_result(out, index, result, n_best=n_best, scores=scores)
        out.flush()
        first += len(lines)
    out.flush()
    out.detach()


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--split",
    type=click.Choice(["test", "valid"]),
    default=None,
    help="Evaluate on a split of the run's data (default: test).",
)
@click.option("--src", type=click.Path(dir_okay=False), help="Source file (one per line).")
@click.option("--ref", type=click.Path(dir_okay=False), help="Reference file (line-aligned).")
@click.option("--output", type=click.Path(dir_okay=False), help="Write the translations here.")
@decoding_options
@user_errors
def evaluate(
    run_dir: str,
    split: str | None,
    src: str | None,
    ref: str | None,
    output: str | None,
    **options: Any,
) -> None:
    """Translate a test set and score it with sacreBLEU (BLEU, chrF).

    Chinese references are scored with sacreBLEU's 'zh' tokenizer, others with '13a'. Prints
    the scores and sacreBLEU's signatures, and writes them to RUN_DIR/eval-<name>.json.

    \b
    Examples:
      transformer-mt evaluate runs/quickstart --split test
      transformer-mt evaluate runs/quickstart --src news.en --ref news.zh --beam-size 1
    """
    from transformer_mt.evaluation.evaluate import evaluate_run

    if (src is None) != (ref is None):
        raise UserError("--src and --ref go together")
    if src is not None and split is not None:
        raise UserError("use either --split or --src/--ref, not both")
    search = _search_kwargs(options)
    scores = evaluate_run(
        Path(run_dir),
        split=split or "test",
        files=(Path(src), Path(ref)) if src and ref else None,
        output=Path(output) if output else None,
        device=options["device"],
        weights=options["weights"],
        dtype=options["dtype"],
        search=search,
        report=lambda message: click.echo(message, err=True),
    )
    click.echo(scores.summary())
