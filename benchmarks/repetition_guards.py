"""Repetition guards on a trained run: test BLEU, chrF and stutter rate for each guard setting.

    python benchmarks/repetition_guards.py runs/quickstart
    python benchmarks/repetition_guards.py runs/quickstart --beam-size 1 --long 300

Decodes the run's test split and a long-sentence set (the ``--long`` test pairs with the most
source characters) with every guard setting, and prints one markdown table: BLEU and chrF
(sacreBLEU), the share of outputs that stutter (``transformer_mt.evaluation.repetition``;
the references' share in the header), BLEU on the test pairs whose reference doubles a token
(reduplication such as 奶奶, 慢慢, which a guard must not forbid), and the BLEU change against
no guard. A guard earns
its place as a default only where it lowers the stutter rate without costing more than 0.2 BLEU.
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from transformer_mt.commands.evaluate import split_pairs
from transformer_mt.config import DecodingOptions
from transformer_mt.config.decoding import NO_GUARDS
from transformer_mt.decoding.translator import Translator
from transformer_mt.evaluation.metrics import corpus_scores
from transformer_mt.evaluation.repetition import stutter_rate

SETTINGS: dict[str, dict[str, Any]] = {
    "no guard": NO_GUARDS,
    "max_token_repeat 1": NO_GUARDS | {"max_token_repeat": 1},
    "max_token_repeat 2": NO_GUARDS | {"max_token_repeat": 2},
    "no_repeat_ngram_size 2": NO_GUARDS | {"no_repeat_ngram_size": 2},
    "no_repeat_ngram_size 3": NO_GUARDS | {"no_repeat_ngram_size": 3},
    "no_repeat_ngram_size 4": NO_GUARDS | {"no_repeat_ngram_size": 4},
    "repetition_penalty 1.2": NO_GUARDS | {"repetition_penalty": 1.2},
    "repetition_penalty 1.5": NO_GUARDS | {"repetition_penalty": 1.5},
    "no_repeat_chunk_size 4": NO_GUARDS | {"no_repeat_chunk_size": 4},
    "max_token_repeat 2 + no_repeat_chunk_size 2": {"no_repeat_chunk_size": 2},
    "max_token_repeat 2 + no_repeat_chunk_size 4 (default)": {},
    "max_token_repeat 2 + no_repeat_chunk_size 6": {"no_repeat_chunk_size": 6},
    "max_token_repeat 1 + no_repeat_chunk_size 4": {"max_token_repeat": 1},
}
# Sentences whose reference has a token twice in a row (奶 奶, 慢 慢): legitimate doubles that
# a guard must not forbid.


@dataclass(frozen=True)
class Measure:
    bleu: float
    chrf: float
    stutter: float


def measure(
    translator: Translator, sources: list[str], references: list[str], options: DecodingOptions
) -> Measure:
    hypotheses = translator.translate(sources, options)
    scores = corpus_scores(hypotheses, references)
    return Measure(scores.bleu, scores.chrf, stutter_rate(hypotheses, cjk=scores.tokenizer == "zh"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--long", type=int, default=300, help="pairs in the long-sentence set")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "int8"])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    translator = Translator.load(args.run, dtype=args.dtype)
    sources, references = split_pairs(args.run, "test", report=lambda _: None)
    longest = sorted(range(len(sources)), key=lambda i: -len(sources[i]))[: args.long]
    long_sources = [sources[i] for i in longest]
    long_references = [references[i] for i in longest]
    target = translator.tokenizer
    doubled = [
        i
        for i, ids in enumerate(target.encode_target(references))
        if any(a == b for a, b in itertools.pairwise(ids))
    ]
    base = DecodingOptions(beam_size=args.beam_size)
    print(
        f"{args.run}: {len(sources)} test pairs, {len(long_sources)} longest; "
        f"{base.describe()}, {args.dtype}; references stutter "
        f"{stutter_rate(references):.1%} (test), {stutter_rate(long_references):.1%} (long)\n"
    )
    print(f"{len(doubled)} test references hold a token twice in a row (reduplication)\n")
    print(
        "| guard | test BLEU | chrF | stutter | long BLEU | long stutter | doubles BLEU "
        "| ΔBLEU | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    baseline: float | None = None
    for name, guard in SETTINGS.items():
        started = time.perf_counter()
        options = base.replace(**guard)
        test = measure(translator, sources, references, options)
        long = measure(translator, long_sources, long_references, options)
        doubles = measure(
            translator, [sources[i] for i in doubled], [references[i] for i in doubled], options
        )
        baseline = test.bleu if baseline is None else baseline
        print(
            f"| {name} | {test.bleu:.2f} | {test.chrf:.2f} | {test.stutter:.1%} | "
            f"{long.bleu:.2f} | {long.stutter:.1%} | {doubles.bleu:.2f} | "
            f"{test.bleu - baseline:+.2f} | "
            f"{time.perf_counter() - started:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
