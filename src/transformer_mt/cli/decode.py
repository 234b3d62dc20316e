"""``transformer-mt translate`` and ``transformer-mt evaluate``."""

from __future__ import annotations

import io
import itertools
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from transformer_mt.cli.common import user_errors
from transformer_mt.cli.controls import constraints_for, prefixes_for, read_values
from transformer_mt.config.decoding import FIELDS as DECODING_FIELDS
from transformer_mt.config.decoding import DecodingOptions, OptionError
from transformer_mt.errors import UserError

if TYPE_CHECKING:
    from transformer_mt.decoding.translator import Translation


def decoding_flags(
    *, exclude: tuple[str, ...] = (), defaults_from: str = ""
) -> Callable[[Callable[..., Any]], Any]:
    """Decorate a command with a ``--flag`` per :class:`DecodingOptions` field (and the
    loading options --device, --weights, --dtype, --shortlist, --target-language). Unset
    flags arrive as None: see :func:`options_from_flags`. ``defaults_from`` names where unset
    options come from, when not from DecodingOptions' defaults."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            _flag(name, spec, defaults_from)
            for name, spec in DECODING_FIELDS.items()
            if name not in exclude
        ]
        options += [
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
            click.option(
                "--shortlist",
                is_flag=True,
                default=False,
                help="Score only the target tokens the run's vocabulary shortlist lists for "
                "each batch's source words (faster int8 decoding; make it with "
                "'transformer-mt shortlist RUN_DIR').",
            ),
            click.option(
                "--target-language",
                metavar="LANG",
                help="A multi-target model's output language (e.g. cmn_Hans): its >>LANG<< "
                "token starts every source (imported models such as opus-mt-en-mul).",
            ),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _flag(name: str, spec: Any, defaults_from: str) -> Callable[[Callable[..., Any]], Any]:
    flag, kind = "--" + name.replace("_", "-"), DecodingOptions.value_type(name)
    where = f"{defaults_from}, else " if defaults_from else ""
    if kind is bool:  # a flag: on when given
        note = f"  [default: {defaults_from}]" if defaults_from else ""
        return click.option(
            flag, name, is_flag=True, default=None, help=DecodingOptions.help(name) + note
        )
    default = "off" if spec.default is None else str(spec.default)
    described = f"{DecodingOptions.help(name)}  [default: {where}{default}]"
    return click.option(flag, name, type=kind, default=None, help=described)


def options_from_flags(
    flags: dict[str, Any], base: DecodingOptions | None = None
) -> DecodingOptions:
    """``base`` (default: the defaults) with every flag the user set; a value out of range is
    a one-line :class:`UserError` naming the flag."""
    chosen = {name: flags[name] for name in DECODING_FIELDS if flags.get(name) is not None}
    try:
        return (base or DecodingOptions()).replace(**chosen)
    except OptionError as error:
        problem = error.problem
        for name in DECODING_FIELDS:
            problem = re.sub(rf"\b{name}\b", "--" + name.replace("_", "-"), problem)
        raise UserError(f"--{error.field.replace('_', '-')} {problem}") from None


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
    out: TextIO, index: int, result: Translation, *, n_best: int, scores: bool, aligned: bool
) -> None:
    from transformer_mt.decoding.alignment import pharaoh  # torch: imported once decoding

    if n_best > 1:
        for candidate in result.candidates:
            line = f"{index} ||| {_one_line(candidate.text)} ||| {candidate.score:.4f}"
            out.write(line + (f" ||| {pharaoh(candidate.alignment or ())}\n" if aligned else "\n"))
        if not result.candidates:  # an empty input line still gets its K (empty) lines
            out.write(f"{index} |||  ||| 0.0000{' ||| ' if aligned else ''}\n" * n_best)
        return
    text = _one_line(result.text)
    if aligned:
        best = result.candidates[0].alignment if result.candidates else ()
        text += f" ||| {pharaoh(best or ())}"
    if scores:
        score = result.candidates[0].score if result.candidates else 0.0
        text += f"\t{score:.4f}"
    out.write(text + "\n")


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@decoding_flags()
@click.option("--scores", is_flag=True, help="Append the score (TAB-separated).")
@click.option(
    "--document",
    is_flag=True,
    help="Each line is a paragraph: translate it sentence by sentence, never cut.",
)
@click.option(
    "--prefix",
    metavar="TEXT|@FILE",
    help="Every output starts with TEXT; with @FILE (or a file's path), output N starts with "
    "line N of FILE (an empty line: no prefix).",
)
@click.option(
    "--constraints",
    metavar="TERMS|@FILE",
    multiple=True,
    help="Target phrases every output must contain (TAB-separated; repeat the flag for more); "
    "with @FILE, line N holds those of input line N. Needs a beam over the number of phrases.",
)
@click.option(
    "--alignments",
    is_flag=True,
    help="Append each output's word alignment, 'TRANSLATION ||| 0-0 1-2 ...' (Pharaoh: source "
    "word i - target word j; a CJK character is a word).",
)
@user_errors
def translate(
    run_dir: str,
    scores: bool,
    document: bool,
    prefix: str | None,
    constraints: tuple[str, ...],
    alignments: bool,
    **flags: Any,
) -> None:
    """Translate standard input, one sentence per line, to standard output.

    One output line per input line; an empty line gives an empty line. Sources longer than the
    model's limit are truncated with a warning on stderr; with --document each line is a
    paragraph, split into sentences (and a sentence over the limit at clauses) and joined back.
    With --n-best K > 1 each input line gives K lines "INDEX ||| TRANSLATION ||| SCORE" (INDEX
    counts input lines from 0), and " ||| ALIGNMENT" after them with --alignments. See
    docs/output-control.md for --prefix, --constraints and --alignments.

    \b
    Examples:
      echo "Hello world" | transformer-mt translate runs/quickstart
      transformer-mt translate runs/quickstart --beam-size 1 < input.en > output.zh
      transformer-mt translate runs/quickstart --sample --top-p 0.9 --seed 7 < input.en
      transformer-mt translate runs/quickstart --dtype int8 --max-tokens 4096 < input.en
      transformer-mt translate runs/quickstart --document < article.en > article.zh
      transformer-mt translate runs/quickstart --prefix 我们 --constraints 绿茶 < input.en
      transformer-mt translate runs/quickstart --constraints @terms.tsv --alignments < input.en
    """
    from transformer_mt.decoding.controls import ControlError
    from transformer_mt.decoding.translator import Translator
    from transformer_mt.runtime import configure_cpu

    configure_cpu(None)
    options = options_from_flags(flags)
    if document and (options.n_best > 1 or scores):
        raise UserError("--document gives one translation per paragraph: no --n-best or --scores")
    prefixes = read_values("--prefix", (prefix,) if prefix is not None else ())
    terms = read_values("--constraints", constraints)
    if document and (prefixes or terms or alignments):
        raise UserError(
            "--document translates sentence by sentence: no --prefix, --constraints or --alignments"
        )
    translator = Translator.load(
        run_dir,
        device=flags["device"],
        weights=flags["weights"],
        dtype=flags["dtype"],
        target_language=flags["target_language"],
        shortlist=flags["shortlist"],
    )
    # Always UTF-8, whatever the terminal's locale: Chinese output must never fail to encode.
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n", write_through=False)
    first = 0  # index of the chunk's first line
    # A few batches per chunk (sorting by length within a chunk keeps padding low); typed at a
    # terminal, each line is answered at once.
    chunk_size = 1 if sys.stdin.isatty() else 8 * options.batch_size
    for lines in _chunks(_stdin_lines(), chunk_size):
        if document:
            for paragraph in translator.translate_documents(lines, options):
                out.write(_one_line(paragraph) + "\n")
            out.flush()
            continue
        try:
            results = translator.translate_detailed(
                lines,
                options,
                prefixes=prefixes_for(prefixes, first, len(lines)),
                constraints=constraints_for(terms, first, len(lines)),
                alignments=alignments,
            )
        except ControlError as error:
            where = "" if error.sentence is None else f"line {first + error.sentence + 1}: "
            raise UserError(where + error.problem) from None
        except ValueError as error:
            raise UserError(str(error)) from None
        for index, result in enumerate(results, start=first):
            if result.truncated:
                click.echo(
                    f"warning: line {index + 1}: longer than the model's limit of "
                    f"{translator.max_source_tokens - 1} tokens; truncated",
                    err=True,
                )
            _write_result(
                out, index, result, n_best=options.n_best, scores=scores, aligned=alignments
            )
        out.flush()
        first += len(lines)
    for given in (prefixes, terms):
        if given is not None:
            given.check_used(first)
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
@decoding_flags(exclude=("n_best",), defaults_from="run config")
@user_errors
def evaluate(
    run_dir: str,
    split: str | None,
    src: str | None,
    ref: str | None,
    output: str | None,
    **flags: Any,
) -> None:
    """Translate a test set and score it with sacreBLEU (BLEU, chrF).

    Chinese references are scored with sacreBLEU's 'zh' tokenizer, others with '13a'. Prints
    the scores and sacreBLEU's signatures, and writes them to RUN_DIR/eval-<name>.json.
    Decoding follows the run's config (its evaluation: section), changed by the flags given.

    \b
    Examples:
      transformer-mt evaluate runs/quickstart --split test
      transformer-mt evaluate runs/quickstart --src news.en --ref news.zh --beam-size 1
    """
    from transformer_mt.commands.evaluate import evaluate_run, run_decoding_options

    if (src is None) != (ref is None):
        raise UserError("--src and --ref go together")
    if src is not None and split is not None:
        raise UserError("use either --split or --src/--ref, not both")
    options = options_from_flags(flags, run_decoding_options(Path(run_dir)))
    scores = evaluate_run(
        Path(run_dir),
        split=split or "test",
        files=(Path(src), Path(ref)) if src and ref else None,
        output=Path(output) if output else None,
        device=flags["device"],
        weights=flags["weights"],
        dtype=flags["dtype"],
        target_language=flags["target_language"],
        shortlist=flags["shortlist"],
        options=options,
        report=lambda message: click.echo(message, err=True),
    )
    click.echo(scores.summary())
