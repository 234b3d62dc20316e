"""``transformer-mt evaluate``: translate a test set with a trained run and score it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from transformer_mt.data.readers import read_text_lines
from transformer_mt.decoding.translator import Translator
from transformer_mt.errors import UserError
from transformer_mt.evaluation.metrics import Scores, corpus_scores
from transformer_mt.rundir import RunDir
from transformer_mt.runtime import configure_cpu
from transformer_mt.training.config import config_from_dict
from transformer_mt.training.run import experiment_splits


def split_pairs(
    run_dir: Path, split: str, report: Callable[[str], None] = print
) -> tuple[list[str], list[str]]:
    """Sources and references of a split of the data the run was trained on.

    ``report`` receives notes from reading the data (skipped rows), never mixed into results.
    """
    run = RunDir(run_dir)
    if not run.config_file.is_file():
        raise UserError(f"{run_dir}: not a run directory (no config.yaml)")
    raw = yaml.safe_load(run.config_file.read_text(encoding="utf-8"))
    config = config_from_dict(raw, source=str(run.config_file))
    splits = experiment_splits(config, report)
    pairs = splits.test if split == "test" else splits.valid
    if not pairs:
        raise UserError(f"{run_dir}: the run's data has no {split} split; use --src/--ref")
    return [s for s, _ in pairs], [t for _, t in pairs]


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
    search: dict[str, Any] | None = None,
    report: Callable[[str], None] = print,
) -> Scores:
    """Translate, score with sacreBLEU, and record the result in the run directory."""
    configure_cpu(None)
    translator = Translator.load(run_dir, device=device, weights=weights, dtype=dtype)
    sources, references = file_pairs(*files) if files else split_pairs(run_dir, split, report)
    options = search or {}
    precision = "" if dtype == "fp32" else f", {dtype}"
    report(f"translating {len(sources)} sentences ({_describe(options)}{precision})")
    hypotheses = translator.translate(sources, progress=True, **options)
    scores = corpus_scores(hypotheses, references)
    name = files[0].name if files else split
    if output is not None:
        output.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
    record = {"data": name, "decoding": options, "dtype": dtype, **scores.__dict__}
    (run_dir / f"eval-{name}.json").write_text(
        json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return scores


def _describe(options: dict[str, Any]) -> str:
    if options.get("sample"):
        return "sampling"
    beam = options.get("beam_size", 4)
    return "greedy" if beam == 1 else f"beam {beam}"
