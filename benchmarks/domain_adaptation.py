"""Domain adaptation: fine-tune Tatoeba models on Bible verses, against training from scratch.

For each direction (en-zh, zh-en) it takes a base model trained on the built-in Tatoeba data,
fine-tunes it on the Bible corpus (``benchmarks/build_bible.py``) for ``--minutes`` of training
with ``train --init-from``, trains the same architecture from scratch on the Bible data for the
same time, and scores all three on the Tatoeba and Bible test sets (sacreBLEU BLEU and chrF,
``zh`` tokenization for Chinese; beam 4). Run it under the CPU lock::

    python benchmarks/build_bible.py /tmp/da/bible
    flock /tmp/tmt-cpu.lock python benchmarks/domain_adaptation.py /tmp/da \\
        --base en-zh=/tmp/qs3/runs/quickstart --base zh-en=/tmp/da/runs/tatoeba-zh-en

Results go to ``OUT/results.json`` and a Markdown table on stdout (docs/fine-tuning.md).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

SIDES = {"en-zh": ("en", "zh"), "zh-en": ("zh", "en")}


def bible_files(bible: Path, split: str, direction: str) -> list[str]:
    source, target = SIDES[direction]
    return [str(bible / f"{split}.{source}"), str(bible / f"{split}.{target}")]


def config(out: Path, bible: Path, direction: str, minutes: float, *, fine_tune: bool) -> Path:
    """The fine-tuning or from-scratch config (same data, time and validation)."""
    name = f"{direction}-{'finetune' if fine_tune else 'scratch'}"
    training: dict[str, Any] = {
        "max_minutes": minutes,
        "max_tokens": 1024,
        "lr": 5e-4 if fine_tune else 1e-3,  # a pretrained model needs smaller steps
        "warmup_steps": 100 if fine_tune else 300,
        "validate_every": 500,
        "bleu_every": 0,  # BLEU once, at the end: the whole budget goes to training
        "bleu_sentences": 300,
        "checkpoint_every": 10_000,
        "seed": 1,
    }
    values: dict[str, Any] = {
        "run_dir": str(out / "runs" / name),
        "data": {
            "dataset": None,
            "direction": direction,
            "train": bible_files(bible, "train", direction),
            "valid": bible_files(bible, "valid", direction),
            "test": bible_files(bible, "test", direction),
            "max_length": 128,
            "clean": ["empty", "control", "length"],
            "extra_valid": {"tatoeba": "tatoeba-en-zh"},
        },
        "training": training,
    }
    if not fine_tune:  # the quick start's architecture, its own tokenizer trained on the Bible
        values["model"] = yaml.safe_load(
            (Path(__file__).parents[1] / "src/transformer_mt/configs/quickstart.yaml").read_text()
        )["model"]
        values["data"] |= {"vocab_size": 8000, "joint_vocab": True}
    path = out / "configs" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(values, allow_unicode=True), encoding="utf-8")
    return path


def tatoeba_test(out: Path, direction: str) -> list[str]:
    """The built-in Tatoeba test split as line files (source, reference)."""
    from transformer_mt.data.corpus import default_cache_dir
    from transformer_mt.data.tatoeba import load_builtin

    pairs = load_builtin("tatoeba-en-zh", direction=direction, cache_dir=default_cache_dir()).test
    files = []
    for index, suffix in ((0, "src"), (1, "ref")):
        path = out / f"tatoeba-test.{direction}.{suffix}"
        path.write_text("".join(pair[index] + "\n" for pair in pairs), encoding="utf-8")
        files.append(str(path))
    return files


def evaluate(run: Path, source: str, reference: str) -> dict[str, float]:
    command = [
        sys.executable, "-m", "transformer_mt", "evaluate", str(run),
        "--src", source, "--ref", reference, "--beam-size", "4",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"BLEU = ([\d.]+)\s+chrF = ([\d.]+)", result.stdout)
    if found is None:
        raise SystemExit(f"evaluate printed no scores: {result.stdout!r} {result.stderr[-500:]!r}")
    return {"bleu": float(found.group(1)), "chrf": float(found.group(2))}


def train(path: Path, *extra: str) -> None:
    command = [sys.executable, "-m", "transformer_mt", "train", str(path), "--overwrite", *extra]
    subprocess.run(command, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--bible", type=Path, default=None, help="default: OUT/bible")
    parser.add_argument("--base", action="append", required=True, help="DIRECTION=RUN_DIR")
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args()
    bible = args.bible or args.out / "bible"
    results: dict[str, Any] = {}
    for spec in args.base:
        direction, base = spec.split("=", 1)
        runs = {"base": Path(base)}
        for fine_tune in (True, False):
            path = config(args.out, bible, direction, args.minutes, fine_tune=fine_tune)
            train(path, *(["--init-from", base] if fine_tune else []))
            run_dir = Path(yaml.safe_load(path.read_text())["run_dir"])
            runs["fine-tuned" if fine_tune else "scratch"] = run_dir
        tests = {
            "tatoeba": tatoeba_test(args.out, direction),
            "bible": bible_files(bible, "test", direction),
        }
        for name, run in runs.items():
            results[f"{direction}/{name}"] = {
                test: evaluate(run, *files) for test, files in tests.items()
            }
            print(direction, name, results[f"{direction}/{name}"], flush=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| direction | model | Tatoeba BLEU | Tatoeba chrF | Bible BLEU | Bible chrF |")
    print("|---|---|---|---|---|---|")
    for key, scores in results.items():
        direction, name = key.split("/")
        t, b = scores["tatoeba"], scores["bible"]
        print(f"| {direction} | {name} | {t['bleu']} | {t['chrf']} | {b['bleu']} | {b['chrf']} |")


if __name__ == "__main__":
    main()
