"""Training tokens/s from the token store against the in-memory corpus, on identical batches.

    python benchmarks/store_speed.py                        # quick-start preset
    python benchmarks/store_speed.py --blocks 40 --updates 10

A wall-clock A/B of two whole ``train`` processes on a shared 2-vCPU machine differs by up to
15% between runs of the *same* code, far more than the effect to measure. So both corpora train
in one process, in alternating blocks of ``--updates`` updates (store, memory, memory, store,
...), each with its own copy of the same initial model and optimizer, through the trainer's own
batch order and ``Trainer.update`` (building the batch, forward, loss, backward, Adam), over the
same batches in the same order, with the same dropout masks: the store's split
(:class:`StoreCorpus`, rows read with ``pread``) against the same rows held as Python lists
(:class:`EncodedCorpus`, the in-memory path). A drift of the machine's speed hits neighbouring
blocks alike; each block's tokens/s is compared with its neighbour's, and the table gives the
median and range of those ratios. It also times building batches alone, and checks that the
two models end with the same weights (the same training, hence the same BLEU at the same
number of updates).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import math
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from comparison.harness import make_trainer
from transformer_mt.commands.prepare import prepared_store
from transformer_mt.config import architecture_config, load_config
from transformer_mt.data.store import TokenStore
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.model.factory import build_model
from transformer_mt.runtime import configure_cpu
from transformer_mt.training.encoded import EncodedCorpus, TrainingCorpus
from transformer_mt.training.store_corpus import StoreCorpus
from transformer_mt.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]


def in_memory(store: TokenStore) -> EncodedCorpus:
    """The store's training split as Python lists of ids (what ``train`` held before)."""
    sides = []
    for side in ("source", "target"):
        reader = store.rows("train", side)
        ids, lengths = reader.read(np.arange(reader.count, dtype=np.int64))
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        sides.append([ids[a:b].tolist() for a, b in itertools.pairwise(bounds)])
    return EncodedCorpus(sides[0], sides[1])


class Contender:
    """One corpus' trainer, its update stream and its own torch random stream (dropout), so
    that both contenders see the same batches and the same dropout masks."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.updates: Iterator = trainer._updates(1)  # the trainer's own batch order
        self.rng = torch.get_rng_state()

    def block(self, count: int) -> tuple[float, float, int]:
        """(wall seconds, CPU seconds of this process, target tokens) of ``count`` updates,
        batch building included (as in train). CPU time leaves out what other virtual
        machines take from this one (steal), which moves wall-clock rates by 10-20%."""
        torch.set_rng_state(self.rng)
        tokens = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            group, _ = next(self.updates)
            tokens += self.trainer.update(group).tokens
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        self.rng = torch.get_rng_state()
        return wall, cpu, tokens


def batch_build_ms(corpus: TrainingCorpus, order: list, count: int) -> float:
    """Median milliseconds to build one padded batch."""
    times = []
    for indices in order[:count]:
        started = time.perf_counter()
        corpus.batch(indices)
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def ratio_summary(rates: dict[str, list[float]], resamples: int = 2000) -> str:
    """Neighbouring blocks' store / memory ratios: their median with a 95% bootstrap interval
    (robust to the blocks another process disturbed), geometric mean and range."""
    ratios = [s / m for s, m in zip(rates["store"], rates["memory"], strict=True)]
    draw = random.Random(0)
    medians = sorted(
        statistics.median(draw.choices(ratios, k=len(ratios))) for _ in range(resamples)
    )
    low, high = medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]
    mean = math.exp(statistics.fmean(math.log(r) for r in ratios))
    return (
        f"median {statistics.median(ratios):.3f} (95% interval {low:.3f}-{high:.3f}), "
        f"geometric mean {mean:.3f}, range {min(ratios):.3f}-{max(ratios):.3f}, "
        f"{len(ratios)} pairs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "quickstart.yaml"))
    parser.add_argument("--blocks", type=int, default=30, help="blocks per corpus")
    parser.add_argument("--updates", type=int, default=10, help="updates per block")
    parser.add_argument("--warmup", type=int, default=5, help="untimed updates per corpus")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    configure_cpu(args.threads)
    config = load_config(Path(args.config), ["training.precision=fp32"])
    store = prepared_store(config, report=lambda _: None)
    tokenizer = Tokenizer.load(store.path / "tokenizer")
    corpora = {"store": StoreCorpus(store, "train"), "memory": in_memory(store)}
    torch.manual_seed(config.training.seed)
    model = build_model(
        architecture_config(
            config.model,
            tokenizer.source_vocab_size,
            tokenizer.target_vocab_size,
            tokenizer.joint,
        )
    )
    with tempfile.TemporaryDirectory() as folder:
        contenders = {
            name: Contender(
                make_trainer(copy.deepcopy(model), corpus, config.training, Path(folder) / name)
            )
            for name, corpus in corpora.items()
        }
        for contender in contenders.values():
            contender.block(args.warmup)
        rates: dict[str, list[float]] = {name: [] for name in contenders}
        cpu_rates: dict[str, list[float]] = {name: [] for name in contenders}
        for block in range(args.blocks):
            names = ["store", "memory"] if block % 2 == 0 else ["memory", "store"]
            for name in names:
                wall, cpu, tokens = contenders[name].block(args.updates)
                rates[name].append(tokens / wall)
                cpu_rates[name].append(tokens / cpu)
            print(
                f"block {block + 1}/{args.blocks}: store {rates['store'][-1]:,.0f}, "
                f"memory {rates['memory'][-1]:,.0f} target tokens/s "
                f"(per CPU second: {cpu_rates['store'][-1]:,.0f}, {cpu_rates['memory'][-1]:,.0f})",
                flush=True,
            )
        order = corpora["store"].batch_order(config.training.max_tokens, None)
        build = {name: batch_build_ms(corpus, order, 300) for name, corpus in corpora.items()}
        weights = [c.trainer.model.state_dict() for c in contenders.values()]
        difference = max(
            float((weights[0][name] - weights[1][name]).abs().max()) for name in weights[0]
        )
    print()
    print(f"{args.blocks} alternated blocks of {args.updates} updates, {args.threads} threads")
    print()
    print("| corpus | target tokens/s | per CPU second | batch build |")
    print("|---|---|---|---|")
    for name in ("memory", "store"):
        print(
            f"| {name} | {statistics.median(rates[name]):,.0f} | "
            f"{statistics.median(cpu_rates[name]):,.0f} | {build[name]:.2f} ms |"
        )
    print("(medians over the blocks)")
    print()
    for label, measured in (("wall clock", rates), ("CPU time", cpu_rates)):
        print(f"store / memory, {label}: {ratio_summary(measured)}")
    updates = args.warmup + args.blocks * args.updates
    print(f"weights after {updates} updates each: largest difference {difference:.3g}")


if __name__ == "__main__":
    main()
