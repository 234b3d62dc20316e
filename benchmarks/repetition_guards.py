"""Repetition guards on a trained run: BLEU, stutter and unseen doubles for each guard setting.

    python benchmarks/repetition_guards.py runs/quickstart
    python benchmarks/repetition_guards.py runs/quickstart --beam-size 1 --long 300

Decodes four sets with every guard setting: the run's test split; a long-sentence set (the
``--long`` test pairs with the most source characters); the everyday set
(``benchmarks/data/everyday-en-zh.tsv``: 227 everyday English sentences with Chinese references
written for this project, a third of them long); and the test pairs whose reference doubles a
token (reduplication such as 奶奶, 慢慢, which a guard must not forbid). For each it prints
BLEU (sacreBLEU), the share of outputs that stutter (a character three times in a row or a
repeated chunk, ``transformer_mt.evaluation.repetition``) and the share that double a character
the training targets never double ("喝水水": *unseen doubles*, which a cap of two in a row lets
through), with the references' shares in the header. A guard earns its place as a default only
where it lowers these rates without costing more than 0.2 test BLEU.
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.commands.evaluate import split_pairs
from transformer_mt.commands.train import experiment_splits
from transformer_mt.config import DecodingOptions
from transformer_mt.config.decoding import NO_GUARDS
from transformer_mt.data.reduplication import doubled_characters
from transformer_mt.decoding.translator import Translator
from transformer_mt.evaluation.metrics import corpus_scores
from transformer_mt.evaluation.repetition import stutter_rate, unseen_double_rate

EVERYDAY = Path(__file__).parent / "data" / "everyday-en-zh.tsv"
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
    "no_unseen_doubles": NO_GUARDS | {"allow_unseen_doubles": False},
    "max_token_repeat 2 + no_repeat_chunk_size 4": {"allow_unseen_doubles": True},
    "max_token_repeat 1 + no_repeat_chunk_size 4": {
        "max_token_repeat": 1,
        "allow_unseen_doubles": True,
    },
    "max_token_repeat 2 + no_repeat_chunk_size 4 + no_unseen_doubles (default)": {},
    "max_token_repeat 2 + no_repeat_chunk_size 6 + no_unseen_doubles": {"no_repeat_chunk_size": 6},
}
# Sentences whose reference has a token twice in a row (奶 奶, 慢 慢): legitimate doubles that
# a guard must not forbid.


@dataclass(frozen=True)
class Measure:
    bleu: float
    stutter: float
    unseen: float


@dataclass(frozen=True)
class TestSet:
    name: str
    sources: list[str]
    references: list[str]


def measure(
    translator: Translator, test_set: TestSet, options: DecodingOptions, doubles: frozenset[str]
) -> Measure:
    hypotheses = translator.translate(test_set.sources, options)
    scores = corpus_scores(hypotheses, test_set.references)
    cjk = scores.tokenizer == "zh"
    unseen = unseen_double_rate(hypotheses, doubles) if cjk else 0.0
    return Measure(scores.bleu, stutter_rate(hypotheses, cjk=cjk), unseen)


def test_sets(translator: Translator, run: Path, longest: int) -> list[TestSet]:
    """test, long, everyday (en->zh runs only) and the reduplication subset of test."""
    sources, references = split_pairs(run, "test", report=lambda _: None)
    by_length = sorted(range(len(sources)), key=lambda i: -len(sources[i]))[:longest]
    doubled = [
        i
        for i, ids in enumerate(translator.tokenizer.encode_target(references))
        if any(a == b for a, b in itertools.pairwise(ids))
    ]
    sets = [
        TestSet("test", sources, references),
        TestSet("long", [sources[i] for i in by_length], [references[i] for i in by_length]),
    ]
    if RunDir(run).read_config().data.direction == "en-zh":
        rows = [line.split("\t") for line in EVERYDAY.read_text(encoding="utf-8").splitlines()]
        sets.append(TestSet("everyday", [r[0] for r in rows], [r[1] for r in rows]))
    sets.append(TestSet("doubles", [sources[i] for i in doubled], [references[i] for i in doubled]))
    return sets


def training_doubles(translator: Translator, run: Path) -> frozenset[str]:
    """The characters the run's training targets double: stored with its tokenizer, or (a run
    trained before they were stored) counted from its data, and then used by the guard too."""
    if translator.tokenizer.target_doubles is None:
        splits = experiment_splits(RunDir(run).read_config(), lambda _: None)
        counted = frozenset(doubled_characters(t for _, t in splits.train))
        translator.tokenizer.target_doubles = counted
    return translator.tokenizer.target_doubles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--long", type=int, default=300, help="pairs in the long-sentence set")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "int8"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--rows", nargs="*", type=int, help="measure only these rows of the table (0 = no guard)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    translator = Translator.load(args.run, dtype=args.dtype)
    doubles = training_doubles(translator, args.run)
    sets = test_sets(translator, args.run, args.long)
    base = DecodingOptions(beam_size=args.beam_size)
    print(f"{args.run}: {base.describe()}, {args.dtype}; references (stutter / unseen doubles):")
    for test_set in sets:
        refs = test_set.references
        print(
            f"- {test_set.name}: {len(refs)} pairs, {stutter_rate(refs):.1%} / "
            f"{unseen_double_rate(refs, doubles):.1%}"
        )
    columns = " | ".join(f"{t.name} BLEU | stutter | unseen" for t in sets[:-1])
    print(f"\n| guard | {columns} | doubles BLEU | ΔBLEU test | s |")
    print("|---" * (3 * len(sets) + 1) + "|")
    baseline: float | None = None
    rows = range(len(SETTINGS)) if args.rows is None else args.rows
    for row in rows:
        name, guard = list(SETTINGS.items())[row]
        started = time.perf_counter()
        options = base.replace(**guard)
        results = [measure(translator, test_set, options, doubles) for test_set in sets]
        baseline = results[0].bleu if baseline is None else baseline
        cells = " | ".join(f"{r.bleu:.2f} | {r.stutter:.1%} | {r.unseen:.1%}" for r in results[:-1])
        print(
            f"| {name} | {cells} | {results[-1].bleu:.2f} | {results[0].bleu - baseline:+.2f} | "
            f"{time.perf_counter() - started:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
