"""Training-step throughput on real batches of the built-in data (prints a table).

    python benchmarks/train_step.py                       # quickstart model, 1024/4096 tokens
    python benchmarks/train_step.py --max-tokens 2048 --threads 1 2 --steps 40
    python benchmarks/train_step.py --max-tokens 1024 --threads 1 --layers 3+3 4+2 5+1

Each cell times ``--steps`` real updates (forward, fused loss, backward, Adam) after 3 warm-up
updates, with the preset's model, precision and tokenizer settings, and reports the median target
tokens per second and milliseconds per update over the timed steps (batches differ in length,
hence min and max). ``--layers E+D ...`` times other encoder+decoder depths of the same width,
each from the same initial seed on the same batches. Timings on a shared 2-vCPU machine vary by
about 20% between runs; compare cells from the same run.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.commands.train import experiment_splits, precision_for
from transformer_mt.config import load_config, transformer_config
from transformer_mt.data.batching import token_budget_batches
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.model import Transformer
from transformer_mt.runtime import configure_cpu
from transformer_mt.training.encoded import EncodedCorpus
from transformer_mt.training.trainer import Trainer


def time_steps(
    corpus: EncodedCorpus,
    tokenizer: Tokenizer,
    preset: str,
    max_tokens: int,
    steps: int,
    layers: str | None = None,
) -> list[tuple[float, int]]:
    """(seconds, target tokens) of each timed update; ``layers`` "E+D" overrides the depths."""
    overrides = [f"training.max_tokens={max_tokens}"]
    if layers is not None:
        encoder, decoder = layers.split("+")
        overrides += [f"model.num_encoder_layers={encoder}", f"model.num_decoder_layers={decoder}"]
    config = load_config(preset, overrides)
    torch.manual_seed(0)
    vocab = (tokenizer.source_vocab_size, tokenizer.target_vocab_size)
    model = Transformer(transformer_config(config.model, *vocab, tokenizer.joint))
    training = precision_for(config.training, torch.device("cpu"), report=lambda message: None)
    trainer = Trainer(
        model, corpus, corpus, training, run=RunDir(Path(tempfile.mkdtemp())),
        bleu=lambda sources, references: (0.0, 0.0), valid_pairs=[], device=torch.device("cpu"),
        report=lambda message: None,
    )  # fmt: skip
    order = token_budget_batches(corpus.lengths(), max_tokens, random.Random(0))
    for indices in order[:3]:
        trainer.update([indices])
    timings = []
    for indices in order[3 : steps + 3]:
        started = time.perf_counter()
        tokens = trainer.update([indices]).tokens
        timings.append((time.perf_counter() - started, tokens))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="quickstart")
    parser.add_argument("--max-tokens", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--threads", type=int, nargs="+", default=[torch.get_num_threads()])
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--layers", nargs="+", default=[None], help="depths, e.g. 3+3 5+1")
    args = parser.parse_args()
    config = load_config(args.preset)
    splits = experiment_splits(config, report=lambda message: None)
    with tempfile.TemporaryDirectory() as scratch:
        tokenizer = Tokenizer.train(
            splits.train, Path(scratch), vocab_size=config.data.vocab_size,
            joint=config.data.joint_vocab, report=lambda message: None,
        )  # fmt: skip
    corpus = EncodedCorpus.from_pairs(tokenizer, splits.train, config.data.max_length)
    precision = precision_for(config.training, torch.device("cpu"), report=print).precision
    print(f"preset {args.preset}, {precision}, {args.steps} timed updates per cell")
    header = ("layers", "max_tokens", "threads", "median tok/s", "min", "max", "median ms/update")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for threads in args.threads:
        configure_cpu(threads)
        for max_tokens, layers in itertools.product(args.max_tokens, args.layers):
            timings = time_steps(corpus, tokenizer, args.preset, max_tokens, args.steps, layers)
            rates = [tokens / seconds for seconds, tokens in timings]
            step_ms = 1000 * statistics.median(seconds for seconds, _ in timings)
            depth = layers or f"{config.model.num_encoder_layers}+{config.model.num_decoder_layers}"
            cells = (depth, max_tokens, threads, f"{statistics.median(rates):,.0f}",
                     f"{min(rates):,.0f}", f"{max(rates):,.0f}", f"{step_ms:.0f}")  # fmt: skip
            print("| " + " | ".join(str(cell) for cell in cells) + " |")


if __name__ == "__main__":
    main()
