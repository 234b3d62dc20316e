"""``transformer-mt evaluate``: translate a test set with a trained run and score it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.commands.train import experiment_splits
from transformer_mt.config import DecodingOptions
from transformer_mt.data.readers import read_text_lines
from transformer_mt.decoding.translator import Translator
from transformer_mt.errors import UserError
from transformer_mt.evaluation.metrics import Scores, corpus_scores
from transformer_mt.evaluation.repetition import repetition_measures
from transformer_mt.runtime import configure_cpu


def split_pairs(
    run_dir: Path, split: str, report: Callable[[str], None] = print
) -> tuple[list[str], list[str]]:
    """Sources and references of a split of the data the run was trained on.

    ``report`` receives notes from reading the data (skipped rows), never mixed into results.
    """
    splits = experiment_splits(RunDir(run_dir).read_config(), report)
    pairs = splits.test if split == "test" else splits.valid
    if not pairs:
        raise UserError(f"{run_dir}: the run's data has no {split} split; use --src/--ref")
    return [s for s, _ in pairs], [t for _, t in pairs]


def run_decoding_options(run_dir: Path) -> DecodingOptions:
    """How ``evaluate`` decodes by default: the run config's ``evaluation:`` section."""
    return RunDir(run_dir).read_config().evaluation


def file_pairs(source: Path, reference: Path) -> tuple[list[str], list[str]]:
    sources, references = read_text_lines(source), read_text_lines(reference)
    if len(sources) != len(references):
        raise UserError(
            f"{source} has {len(sources)} lines but {reference} has {len(references)}; "
            "they must be line-aligned"
        )
    return sources, references


def evaluate_run(
    run_dir: Path,
    *,
    split: str = "test",
    files: tuple[Path, Path] | None = None,
    output: Path | None = None,
    device: str = "cpu",
    weights: str | None = None,
    dtype: str = "fp32",
    target_language: str | None = None,
    shortlist: bool = False,
    options: DecodingOptions | None = None,
    report: Callable[[str], None] = print,
) -> Scores:
    """Translate, score with sacreBLEU, and record the result in the run directory."""
    configure_cpu(None)
    translator = Translator.load(
        run_dir,
        device=device,
        weights=weights,
        dtype=dtype,
        target_language=target_language,
        shortlist=shortlist,
    )
    sources, references = file_pairs(*files) if files else split_pairs(run_dir, split, report)
    options = options or DecodingOptions()
    precision = ("" if dtype == "fp32" else f", {dtype}") + (", shortlist" if shortlist else "")
    report(f"translating {len(sources)} sentences ({options.describe()}{precision})")
    hypotheses = translator.translate(sources, options, progress=True)
    scores = corpus_scores(hypotheses, references)
    cjk = scores.tokenizer == "zh"
    stutter = repetition_measures(
        hypotheses, references, cjk=cjk, doubles=translator.tokenizer.target_doubles
    )
    report(
        f"stutter: {stutter['stutter']:.1%} of the outputs repeat themselves "
        f"(references: {stutter['reference_stutter']:.1%})"
    )
    if "unseen_doubles" in stutter:
        unseen, in_references = stutter["unseen_doubles"], stutter["reference_unseen_doubles"]
        report(
            f"unseen doubles: {unseen:.1%} of the outputs double a character the training "
            f"data never doubles (references: {in_references:.1%})"
        )
    name = files[0].name if files else split
    if output is not None:
        output.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
    record = {
        "data": name,
        "decoding": options.to_dict(),
        "dtype": dtype,
        "shortlist": shortlist,
        **scores.__dict__,
        **stutter,
    }
    RunDir(run_dir).evaluation_record(name).write_text(
        json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return scores
