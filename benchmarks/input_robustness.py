"""Inputs as users type them: test BLEU, stutter and unseen doubles when the source lacks its
final punctuation or its capital letter.

    python benchmarks/input_robustness.py runs/quickstart
    python benchmarks/input_robustness.py runs/quickstart --beam-size 1

Tatoeba's English sentences all start with a capital letter and end with punctuation, so a model
trained on them has never seen "Hello world" (it writes 你好世界好好。 where "Hello, world!" gets
你好，世界！) or "hello world". This benchmark decodes the test split as written and in three
variants a user would type: without the final punctuation (removed from the reference too, which
then expects none), with a lower-case first letter, and both. A model robust to such input loses
little BLEU and stutters no more in the variants; the gap measures how much the training data's
conventions leak into the model's behaviour. A fifth variant writes the whole source in lower case.
Translation cases the input as the training sources do (transformer_mt.data.casing) unless
``--keep-case``; run both to see what that buys.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

import sacrebleu

from repetition_guards import training_doubles
from transformer_mt.commands.evaluate import split_pairs
from transformer_mt.config import DecodingOptions
from transformer_mt.decoding.translator import Translator
from transformer_mt.evaluation.repetition import stutter_rate, unseen_double_rate

_FINAL = re.compile(r"[.!?。！？…\"'”’」』]+$")

Variant = Callable[[str, str], tuple[str, str]]


def no_final_punctuation(source: str, reference: str) -> tuple[str, str]:
    return _FINAL.sub("", source.rstrip()), _FINAL.sub("", reference.rstrip())


def lower_first(source: str, reference: str) -> tuple[str, str]:
    return source[:1].lower() + source[1:], reference


def both(source: str, reference: str) -> tuple[str, str]:
    return lower_first(*no_final_punctuation(source, reference))


def all_lower(source: str, reference: str) -> tuple[str, str]:
    return source.lower(), reference


VARIANTS: dict[str, Variant] = {
    "as written": lambda source, reference: (source, reference),
    "no final punctuation": no_final_punctuation,
    "lower-case first letter": lower_first,
    "both": both,
    "all lower case": all_lower,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--examples", nargs="*", default=["Hello world", "hello world"])
    parser.add_argument(
        "--keep-case", action="store_true", help="do not case the input as the training data"
    )
    args = parser.parse_args()
    translator = Translator.load(args.run)
    sources, references = split_pairs(args.run, "test", report=lambda _: None)
    doubles = training_doubles(translator, args.run)
    options = DecodingOptions(beam_size=args.beam_size, keep_case=args.keep_case)
    casing = (
        "as typed"
        if args.keep_case or translator.tokenizer.source_casing is None
        else ("cased as the training sources")
    )
    print(f"{args.run}: {len(sources)} test pairs, {options.describe()}, input {casing}\n")
    print("| input | BLEU | chrF | stutter | unseen doubles |")
    print("|---|---|---|---|---|")
    for name, variant in VARIANTS.items():
        pairs = [variant(s, r) for s, r in zip(sources, references, strict=True)]
        outputs = translator.translate([s for s, _ in pairs], options)
        refs = [r for _, r in pairs]
        bleu = sacrebleu.corpus_bleu(outputs, [refs], tokenize="zh").score
        chrf = sacrebleu.corpus_chrf(outputs, [refs]).score
        stutter, unseen = stutter_rate(outputs), unseen_double_rate(outputs, doubles)
        print(f"| {name} | {bleu:.2f} | {chrf:.2f} | {stutter:.1%} | {unseen:.1%} |")
    print()
    for example, output in zip(
        args.examples, translator.translate(args.examples, options), strict=True
    ):
        print(f"- {example} -> {output}")


if __name__ == "__main__":
    main()
