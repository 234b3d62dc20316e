"""Transformer against the attentional LSTM baseline: long range, parallelism, translation.

    python benchmarks/transformer_vs_lstm.py            # the full study, about an hour on one core
    python benchmarks/transformer_vs_lstm.py --quick    # a smaller version, ~10 min

Writes ``docs/transformer-vs-lstm.md`` with its figures (``docs/transformer-vs-lstm-*.png``) and
raw numbers (``docs/transformer-vs-lstm.json``), and prints the conclusions. See
:mod:`comparison` for what each experiment measures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from comparison.long_range import LongRangeSettings
from comparison.report import conclusions, write_report
from comparison.saved import load_results, to_json
from comparison.study import StudyResults, StudySettings, run_study
from transformer_mt.artifacts.weights import atomic_write
from transformer_mt.commands.train import experiment_splits
from transformer_mt.config import load_config
from transformer_mt.runtime import configure_cpu


def quick_settings() -> StudySettings:
    """About a fifth of the full study: fewer updates, lengths, sentences and minutes."""
    return StudySettings(
        long_range=LongRangeSettings(
            train_examples=2000,
            updates=300,
            probe_updates=100,
            eval_lengths=(8, 32, 128),
            eval_examples=20,
        ),
        speed_lengths=(16, 64, 128),
        speed_threads=(1,),
        speed_sentences=64,
        translation_seconds=60.0,
        translation_points=2,
        translation_probe_seconds=15.0,
        eval_sentences=200,
        bucket_sentences=500,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smaller, faster version")
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="where the report goes")
    parser.add_argument("--updates", type=int, help="synthetic-task updates per model and task")
    parser.add_argument("--minutes", type=float, help="translation training minutes per model")
    parser.add_argument(
        "--from-json",
        type=Path,
        help="render the report again from a saved transformer-vs-lstm.json (no measuring)",
    )
    parser.add_argument(
        "--threads", type=int, nargs="+", help="thread counts for the speed part (default 1)"
    )
    args = parser.parse_args()
    if args.from_json:
        results = load_results(args.from_json)
        path = write_report(results, args.docs)
        print(f"report: {path}")
        return
    configure_cpu(1)
    settings = quick_settings() if args.quick else StudySettings()
    if args.updates:
        probe_updates = min(settings.long_range.probe_updates, max(args.updates // 3, 1))
        long_range = dataclasses.replace(
            settings.long_range, updates=args.updates, probe_updates=probe_updates
        )
        settings = dataclasses.replace(settings, long_range=long_range)
    if args.threads:
        settings = dataclasses.replace(settings, speed_threads=tuple(args.threads))
    if args.minutes:
        settings = dataclasses.replace(settings, translation_seconds=args.minutes * 60)
    splits = experiment_splits(load_config("quickstart"), report=lambda _: None)
    with tempfile.TemporaryDirectory(prefix="transformer-vs-lstm-") as work:
        partial = args.docs / "transformer-vs-lstm.partial.json"
        results = run_study(
            settings, splits, Path(work), report=_print, after_part=partial_saver(partial)
        )
    command = " ".join(
        ["python", "benchmarks/transformer_vs_lstm.py", *map(shlex.quote, sys.argv[1:])]
    )
    results.command = command
    path = write_report(results, args.docs)
    partial.unlink(missing_ok=True)
    print("\n".join(["", *conclusions(results), "", f"report: {path}"]))


def partial_saver(path: Path) -> Callable[[StudyResults], None]:
    """Save the results so far (atomically) after each part of the study."""

    def save(results: StudyResults) -> None:
        text = json.dumps(to_json(results), indent=1) + "\n"
        atomic_write(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))
        print(f"results so far: {path}", flush=True)

    return save


def _print(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    main()
