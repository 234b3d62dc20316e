"""How data preparation and training scale with the corpus: the token store against today's path.

For each size, a corpus of that many distinct pairs is generated from the built-in data (pair k
joins training pairs i and j, a different (i, j) for every k, so lengths look like news
sentences and deduplication keeps them all) as two line-aligned files in a temporary folder.
Then, each in its own process (peak RSS from ``/usr/bin/time``):

- ``prepare``: wall time, pairs/s, peak RSS, store size;
- ``train`` on the prepared store, 200 updates of the quick-start model: time from the start
  of the process to the first update, peak RSS, training tokens/s;
- optionally (``--baseline-src``) the same ``train`` with an older checkout of the package
  whose ``train`` reads the corpus into memory (today's path before the token store).

``--synthetic 10000000`` also trains from a store of that many random pairs built beside the
first size's (same settings and tokenizer, lengths drawn from its pairs): training's memory and
start-up at sizes whose ``prepare`` would not fit the time budget.

Run (it prints a markdown table; never a test):
    flock /tmp/tmt-cpu.lock python benchmarks/data_scale.py --sizes 300000 1000000 \\
        --synthetic 10000000 --baseline-src /tmp/tmt-old/src
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from transformer_mt.data.corpus import default_cache_dir
from transformer_mt.data.store import MANIFEST, SIDES, ArrayWriter, TokenStore
from transformer_mt.data.tatoeba import load_builtin

STEPS = 200
# The first update's wall time, printed by a wrapper around the trainer (see _train).
_FIRST_UPDATE = """
import os, sys, time
from transformer_mt.training import trainer
started = float(os.environ["DATA_SCALE_STARTED"])
original = trainer.Trainer.update
def update(self, group):
    if not getattr(self, "_timed", False):
        self._timed = True
        print(f"FIRST_UPDATE {time.time() - started:.2f}", file=sys.stderr, flush=True)
    return original(self, group)
trainer.Trainer.update = update
from transformer_mt.cli.main import main
sys.argv = ["transformer-mt", *sys.argv[1:]]
main()
"""


def write_corpus(folder: Path, size: int) -> tuple[Path, Path, Path]:
    """``size`` distinct joined pairs as train.en / train.zh, and valid.tsv (built-in valid)."""
    splits = load_builtin("tatoeba-en-zh", direction="en-zh", cache_dir=default_cache_dir())
    base, count = splits.train, len(splits.train)
    source, target = folder / "train.en", folder / "train.zh"
    with open(source, "w", encoding="utf-8") as en, open(target, "w", encoding="utf-8") as zh:
        for k in range(size):
            # k -> (i, j) is one-to-one for k < count**2: 104729 is a prime not dividing count.
            i, j = k % count, (k // count * 104729 + k) % count
            en.write(f"{base[i][0]} {base[j][0]}\n")
            zh.write(f"{base[i][1]}{base[j][1]}\n")
    valid = folder / "valid.tsv"
    valid.write_text("".join(f"{s}\t{t}\n" for s, t in splits.valid), encoding="utf-8")
    return source, target, valid


def overrides(source: Path, target: Path, valid: Path, store: Path | None, run: Path) -> list[str]:
    values = {
        "data.dataset": "null",
        "data.train": f"[{source}, {target}]",
        "data.valid": str(valid),
        **({"data.store": str(store)} if store else {}),
        "run_dir": str(run),
        "training.max_steps": str(STEPS),
        "training.max_minutes": "null",
        "training.validate_every": "100000",
        "training.checkpoint_every": "100000",
        "training.bleu_every": "0",
        "training.bleu_sentences": "20",
        "training.tensorboard": "false",
    }
    return [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``command``; returns (wall seconds, peak RSS in GB, stderr)."""
    started = time.time()
    result = subprocess.run(
        ["/usr/bin/time", "-v", *command],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {}), "DATA_SCALE_STARTED": str(started)},
    )
    wall = time.time() - started
    if result.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed:\n{result.stderr[-3000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)[1])
    return wall, rss_kb / 1e6, result.stderr


def train_run(args: list[str], run: Path, src: str | None) -> dict[str, float]:
    env = {"PYTHONPATH": src} if src else {}
    _, rss, stderr = timed([sys.executable, "-c", _FIRST_UPDATE, "train", "quickstart", *args], env)
    first = float(re.search(r"FIRST_UPDATE ([\d.]+)", stderr)[1])
    summary = json.loads((run / "summary.json").read_text())
    return {"first_update_s": first, "rss_gb": rss, "tokens_per_s": summary["target_tokens_per_s"]}


def synthetic_store(real: Path, path: Path, pairs: int, seed: int = 0) -> None:
    """A store of ``pairs`` random training pairs that passes for ``real``'s (same settings,
    inputs, tokenizer and validation): lengths drawn from ``real``'s pairs, random ids. For
    measuring training at sizes whose ``prepare`` would not fit the time budget."""
    shutil.copytree(real, path, ignore=shutil.ignore_patterns("train.*"))
    manifest = json.loads((real / MANIFEST).read_text(encoding="utf-8"))
    store, draw = TokenStore.open(real), np.random.default_rng(seed)
    (_, source_offsets), (_, target_offsets) = (store.ids("train", s) for s in SIDES)
    picks = draw.integers(0, len(source_offsets) - 1, pairs)  # (N,) a real pair's lengths each
    dtype = np.dtype(store.manifest["files"]["train.source.ids"]["dtype"])
    for side, offsets in (("source", source_offsets), ("target", target_offsets)):
        lengths = np.diff(offsets)[picks]  # (N,)
        ids = ArrayWriter(path / f"train.{side}.ids", dtype)
        for start in range(0, int(lengths.sum()), 1 << 26):  # 64M ids at a time
            count = min(1 << 26, int(lengths.sum()) - start)
            ids.append(draw.integers(4, 8000, count))
        bounds = ArrayWriter(path / f"train.{side}.offsets", np.dtype(np.int64))
        bounds.append(np.concatenate([[0], np.cumsum(lengths)]))
        manifest["files"][f"train.{side}.ids"] = ids.close()
        manifest["files"][f"train.{side}.offsets"] = bounds.close()
    manifest["splits"]["train"]["pairs"] = pairs
    (path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def measure(
    size: int, baseline_src: str | None, synthetic: list[int] | None = None
) -> list[dict[str, float]]:
    """The row of ``size`` (and of each ``synthetic`` size, trained from a synthetic store)."""
    with tempfile.TemporaryDirectory(prefix="data-scale-") as temporary:
        folder = Path(temporary)
        source, target, valid = write_corpus(folder, size)
        store, run = folder / "store", folder / "run"
        args = overrides(source, target, valid, store, run)
        wall, rss, _ = timed(
            [sys.executable, "-m", "transformer_mt", "prepare", "quickstart", *args]
        )
        row: dict[str, float] = {"pairs": size, "prepare_s": wall, "prepare_rss_gb": rss}
        row["store_gb"] = sum(f.stat().st_size for f in store.rglob("*") if f.is_file()) / 1e9
        streamed = train_run([*args, "--overwrite"], run, None)
        row.update({f"store_{key}": value for key, value in streamed.items()})
        if baseline_src:  # an older package knows no data.store
            old_args = overrides(source, target, valid, None, run)
            old = train_run([*old_args, "--overwrite"], run, baseline_src)
            row.update({f"memory_{key}": value for key, value in old.items()})
        rows = [row]
        for pairs in synthetic or []:
            fake = folder / f"store-{pairs}"
            synthetic_store(store, fake, pairs)
            fake_args = overrides(source, target, valid, fake, run)
            streamed = train_run([*fake_args, "--overwrite"], run, None)
            rows.append({"pairs": pairs, **{f"store_{k}": v for k, v in streamed.items()}})
            shutil.rmtree(fake)
    return rows


def table(rows: list[dict[str, float]]) -> str:
    head = (
        "| pairs | prepare | pairs/s | prepare peak RSS | store | first update | train peak RSS "
        "| tokens/s | in-memory: first update | peak RSS | tokens/s |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for row in rows:
        if "prepare_s" not in row:  # a synthetic store: training only
            lines.append(
                f"| {row['pairs'] / 1e6:.1f}M (synthetic store) | - | - | - | - | "
                f"{row['store_first_update_s']:.1f} s | {row['store_rss_gb']:.2f} GB | "
                f"{row['store_tokens_per_s']:.0f} | - | - | - |"
            )
            continue
        memory = (
            f"{row['memory_first_update_s']:.1f} s | {row['memory_rss_gb']:.2f} GB | "
            f"{row['memory_tokens_per_s']:.0f}"
            if "memory_rss_gb" in row
            else "- | - | -"
        )
        lines.append(
            f"| {row['pairs'] / 1e6:.1f}M | {row['prepare_s']:.0f} s | "
            f"{row['pairs'] / row['prepare_s']:.0f} | {row['prepare_rss_gb']:.2f} GB | "
            f"{row['store_gb']:.2f} GB | {row['store_first_update_s']:.1f} s | "
            f"{row['store_rss_gb']:.2f} GB | {row['store_tokens_per_s']:.0f} | {memory} |"
        )
    return head + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300_000, 1_000_000])
    parser.add_argument(
        "--baseline-src", help="src/ folder of a checkout with the in-memory train (optional)"
    )
    parser.add_argument(
        "--baseline-max", type=int, default=1_000_000, help="largest size for the baseline"
    )
    parser.add_argument(
        "--synthetic",
        type=int,
        nargs="*",
        default=[],
        help="sizes trained from a synthetic store (random ids), after the first size",
    )
    args = parser.parse_args()
    rows = []
    for index, size in enumerate(args.sizes):
        baseline = args.baseline_src if size <= args.baseline_max else None
        for row in measure(size, baseline, args.synthetic if index == 0 else None):
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
