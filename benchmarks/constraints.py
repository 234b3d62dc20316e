"""Terminology constraints on a trained run: term accuracy, BLEU and the speed cost of DBA.

    python benchmarks/constraints.py runs/quickstart
    python benchmarks/constraints.py runs/quickstart --beam-size 8 --limit 500

Terms come from the references, as a terminology list would give them: for each test pair, the
longest CC-CEDICT translation (two characters or more) of a source word that the reference
contains exactly once (``benchmarks/cedict.py``; "two terms" takes the two longest such terms
that do not overlap). Each set is decoded by plain beam search and by constrained beam search
with its terms; the table gives the share of outputs that contain every term, the share where a
term comes only after the output's first sentence end (DBA's known failure: "我喜欢喝茶。绿茶。"),
BLEU (sacreBLEU, ``zh``) on those sentences against their references, and the decoding speed in
sentences per second (one process, the same batches; the ratio is the cost of the constraints).
"whole test split" decodes all 2,000 test sentences, with a term where one was found: the
speed of a batch that mixes constrained and unconstrained sentences.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from cedict import Lexicon
from transformer_mt.commands.evaluate import split_pairs
from transformer_mt.decoding.translator import Translator
from transformer_mt.evaluation.metrics import corpus_scores


def reference_terms(
    lexicon: Lexicon, sources: list[str], references: list[str], count: int
) -> dict[int, list[str]]:
    """The pairs that have ``count`` non-overlapping terms, and those terms."""
    chosen: dict[int, list[str]] = {}
    for index, (source, reference) in enumerate(zip(sources, references, strict=True)):
        links = [link for link in lexicon.links(source, reference) if len(link.term) >= 2]
        kept: list[str] = []
        for term in sorted({link.term for link in links}, key=lambda t: (-len(t), t)):
            if not any(term in other or other in term for other in kept):
                kept.append(term)
        if len(kept) >= count:
            chosen[index] = kept[:count]
    return chosen


def run_set(
    translator: Translator,
    name: str,
    pairs: tuple[list[str], list[str]],
    terms: list[list[str]],
    beam: int,
) -> None:
    """One table block: plain and constrained beam search on the same sentences."""
    sources, references = pairs
    start = time.perf_counter()
    plain = translator.translate(sources, beam_size=beam)
    middle = time.perf_counter()
    forced = translator.translate(sources, beam_size=beam, constraints=terms)
    seconds = (middle - start, time.perf_counter() - middle)
    constrained = [i for i, t in enumerate(terms) if t]
    for search, outputs, took in (
        ("beam", plain, seconds[0]),
        ("beam + terms", forced, seconds[1]),
    ):
        met = sum(all(t in outputs[i] for t in terms[i]) for i in constrained)
        late = sum(appended(outputs[i], terms[i]) for i in constrained)
        bleu = corpus_scores(outputs, references).bleu
        print(
            f"| {name} | {search} | {len(sources)} | {met / len(constrained):.1%} | "
            f"{late / len(constrained):.1%} | {bleu:.2f} | {len(sources) / took:.1f} |"
        )
    ratio = seconds[1] / seconds[0]
    print(f"| {name} | time with terms / without | | | | | x{ratio:.2f} |")


def appended(output: str, terms: list[str]) -> bool:
    """A term written only after the output's first sentence end (我喜欢喝茶。绿茶。)."""
    ends = [output.find(mark) for mark in "。！？" if mark in output[:-1]]
    if not ends:
        return False
    end = min(ends)
    return any(term in output and output.find(term) > end for term in terms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--limit", type=int, default=2000, help="Test pairs read (default 2000).")
    args = parser.parse_args()
    torch.manual_seed(0)
    translator = Translator.load(args.run)
    sources, references = split_pairs(args.run, "test", report=lambda _: None)
    sources, references = sources[: args.limit], references[: args.limit]
    lexicon = Lexicon.load()
    translator.translate(sources[:64], beam_size=args.beam_size)  # warm up
    print(f"beam size {args.beam_size}, {torch.get_num_threads()} threads\n")
    print(
        "| set | search | sentences | all terms in output | a term after the end | BLEU |", end=""
    )
    print(" sentences/s |\n|---|---|---|---|---|---|---|")
    for count in (1, 2):
        chosen = reference_terms(lexicon, sources, references, count)
        pairs = ([sources[i] for i in chosen], [references[i] for i in chosen])
        terms = list(chosen.values())
        run_set(translator, f"{count} term(s)", pairs, terms, args.beam_size)
    chosen = reference_terms(lexicon, sources, references, 1)
    terms = [chosen.get(i, []) for i in range(len(sources))]
    run_set(translator, "whole test split", (sources, references), terms, args.beam_size)


if __name__ == "__main__":
    main()
