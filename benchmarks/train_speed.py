"""Training-step speed: ours against HF Transformers' MarianMTModel, same model, batch, optimizer.

    python benchmarks/train_speed.py                      # tiny and base, fp32 and bf16
    python benchmarks/train_speed.py --sizes tiny --steps 6 --rounds 3

Both models are post-norm Transformers of the same dimensions (tiny: d 256, 3+3 layers, 4 heads,
FFN 1024, vocabulary 8,000; base: d 512, 6+6, 8 heads, FFN 2048, vocabulary 16,000) with tied
embeddings, dropout 0.1, trained on the same batch of 128 random sentences x 32 source and 32
target tokens (4,096 target tokens, no padding) with label smoothing 0.1, Adam (lr 1e-4), no
clipping. Ours is a ``Trainer.update`` (fused projection + loss, 16-bit dropout, math attention);
HF's step is ``model(...).logits`` -> ``F.cross_entropy(label_smoothing=0.1)`` -> backward -> Adam
step, as its users write it. Precision: fp32, or bf16 autocast with fp32 weights.

Both run in this process, alternating in rounds, so they share the machine's state and this
project's process settings (glibc keeps freed memory, denormals flushed: `runtime.configure_cpu`),
which also help HF. Achieved FLOP/s = 6 * N * tokens/s, N = parameters of the layers plus the
output projection (V x d); the matmul peak of each precision is measured first, in the same run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from hf_peer import marian, marian_loss
from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.config import TrainingConfig
from transformer_mt.model import Transformer, TransformerConfig
from transformer_mt.runtime import configure_cpu, cpu_summary
from transformer_mt.training.encoded import EncodedCorpus
from transformer_mt.training.step import autocast
from transformer_mt.training.trainer import Trainer

SIZES = {
    "tiny": {"d_model": 256, "layers": 3, "heads": 4, "d_ff": 1024, "vocab": 8000},
    "base": {"d_model": 512, "layers": 6, "heads": 8, "d_ff": 2048, "vocab": 16000},
}
SENTENCES, LENGTH = 128, 32  # 4,096 target tokens per step
SPECIALS = 4  # ids 0-3 are <pad> <unk> <s> </s>
Step = Callable[[], int]  # one training update; returns its target tokens


@dataclass
class Cell:
    size: str
    precision: str
    ours: list[float]  # tokens/s per timed step
    hf: list[float]


def matmul_peak(
    dtype: torch.dtype, sizes: tuple[int, ...] = (1024, 2048), trials: int = 5
) -> float:
    """Best median GFLOP/s of square matmuls (2 n^3 FLOPs) over ``sizes``."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
        out = torch.empty(n, n, dtype=dtype)
        torch.matmul(a, b, out=out)
        rates = []
        for _ in range(trials):
            calls, started = 0, time.perf_counter()
            while time.perf_counter() - started < 0.4:
                torch.matmul(a, b, out=out)
                calls += 1
            rates.append(2 * n**3 * calls / (time.perf_counter() - started) / 1e9)
        best = max(best, statistics.median(rates))
    return best


def random_corpus(vocab: int, seed: int = 0) -> EncodedCorpus:
    """128 pairs of 31 random word ids (+ </s> or <s> = 32 tokens per side)."""
    rng = random.Random(seed)
    words = [[rng.randrange(SPECIALS, vocab) for _ in range(LENGTH - 1)] for _ in range(SENTENCES)]
    targets = [
        [rng.randrange(SPECIALS, vocab) for _ in range(LENGTH - 1)] for _ in range(SENTENCES)
    ]
    return EncodedCorpus(words, targets)


def our_step(size: dict[str, int], precision: str, corpus: EncodedCorpus) -> tuple[Step, int]:
    config = TransformerConfig(
        src_vocab_size=size["vocab"], tgt_vocab_size=size["vocab"], d_model=size["d_model"],
        num_heads=size["heads"], num_encoder_layers=size["layers"],
        num_decoder_layers=size["layers"], d_ff=size["d_ff"], dropout=0.1,
        norm_position="post", max_positions=512,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Transformer(config)
    training = TrainingConfig(
        max_steps=1, max_tokens=SENTENCES * LENGTH, lr=1e-4, warmup_steps=0, clip_norm=0.0,
        precision=precision, device="cpu", tensorboard=False,
    )  # fmt: skip
    trainer = Trainer(
        model, corpus, corpus, training, run=RunDir(Path(tempfile.mkdtemp())),
        bleu=lambda sources, references: (0.0, 0.0), valid_pairs=[], device=torch.device("cpu"),
        report=lambda _: None,
    )  # fmt: skip
    group = [list(range(SENTENCES))]
    n = count_flop_parameters(model.config)
    return (lambda: trainer.update(group).tokens), n


def hf_step(size: dict[str, int], precision: str, corpus: EncodedCorpus) -> Step:
    torch.manual_seed(0)
    model = marian(size["vocab"], size["d_model"], size["layers"], size["heads"], size["d_ff"], 0.1)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    batch = corpus.batch(list(range(SENTENCES)))
    device = torch.device("cpu")

    def step() -> int:
        with autocast(device, precision):
            loss = marian_loss(model, batch, label_smoothing=0.1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return SENTENCES * LENGTH

    return step


def count_flop_parameters(config: TransformerConfig) -> int:
    """N for 6*N*tokens: the weights of every layer plus the output projection (V x d)."""
    model = Transformer(config)
    layers = sum(p.numel() for p in model.encoder_layers.parameters())
    layers += sum(p.numel() for p in model.decoder_layers.parameters())
    return layers + config.tgt_vocab_size * config.d_model


def timed(step: Step, steps: int) -> list[float]:
    rates = []
    for _ in range(steps):
        started = time.perf_counter()
        tokens = step()
        rates.append(tokens / (time.perf_counter() - started))
    return rates


def measure(size_name: str, precision: str, steps: int, rounds: int) -> tuple[Cell, int]:
    size = SIZES[size_name]
    corpus = random_corpus(size["vocab"])
    ours, n = our_step(size, precision, corpus)
    hf = hf_step(size, precision, corpus)
    for step in (ours, hf):  # warm-up: allocator, oneDNN kernels
        timed(step, 2)
    cell = Cell(size_name, precision, [], [])
    for _ in range(rounds):
        cell.ours += timed(ours, steps)
        cell.hf += timed(hf, steps)
    return cell, n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["tiny", "base"], choices=list(SIZES))
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per cell")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    configure_cpu(args.threads)
    threads = torch.get_num_threads()
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    print(f"CPU: {cpu_summary()}")
    print(f"{threads} threads; matmul peak: fp32 {peaks['fp32']:.0f} GFLOP/s, "
          f"bf16 {peaks['bf16']:.0f} GFLOP/s")  # fmt: skip
    print(f"batch {SENTENCES} x {LENGTH} target tokens; median (min-max) target tokens/s over "
          f"{args.rounds} x {args.steps} steps per engine\n")  # fmt: skip
    header = ("model", "precision", "ours tok/s", "HF Marian tok/s", "ours / HF",
              "ours GFLOP/s", "% of peak", "HF % of peak")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for size in args.sizes:
        for precision in args.precisions:
            cell, n = measure(size, precision, args.steps, args.rounds)
            ours, hf = statistics.median(cell.ours), statistics.median(cell.hf)
            flops = 6 * n * ours / 1e9
            hf_flops = 6 * n * hf / 1e9
            peak = peaks[precision]
            row = (
                size, precision,
                f"{ours:,.0f} ({min(cell.ours):,.0f}-{max(cell.ours):,.0f})",
                f"{hf:,.0f} ({min(cell.hf):,.0f}-{max(cell.hf):,.0f})",
                f"{ours / hf:.2f}x", f"{flops:.0f}", f"{100 * flops / peak:.0f}%",
                f"{100 * hf_flops / peak:.0f}%",
            )  # fmt: skip
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
