"""Learning per update: our model's initialisation and LayerNorm placement against HF Marian.

    python benchmarks/init_curves.py                    # 5 variants x 1,000 updates, ~35 min
    python benchmarks/init_curves.py --updates 200 --every 100 --variants post-normal hf

Every variant trains the quickstart-sized model (d 256, 3+3 layers, 4 heads, FFN 1024, tied
embeddings) on the same token-budget batches in the same order with the same recipe (the
quickstart preset's: Adam, lr 1e-3 after 300 warmup updates, label smoothing 0.1, bf16
autocast), one after another on one thread, and scores the negative log-likelihood per target
token (no smoothing) on the first 500 test pairs every ``--every`` updates. Updates, not seconds:
this measures how much each setup learns per update, whatever the machine's speed. Variants:
``post-normal`` (our default: post-norm, N(0, 0.02)), ``post-xavier``, ``pre-normal``,
``pre-xavier`` and ``hf`` (MarianMTModel, post-norm, N(0, 0.02)). Prints a table and writes
``OUT/init_curves.json`` and the plot ``OUT/init_curves.png``.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path

import torch

from hf_peer import marian_loss
from quality import hf_model, hf_trainer, line_plot, our_model, our_trainer, preset
from transformer_mt.commands.train import experiment_splits
from transformer_mt.data.batching import token_budget_batches
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.runtime import configure_cpu
from transformer_mt.training.encoded import EncodedCorpus
from transformer_mt.training.step import teacher_forced_loss

VARIANTS = ("post-normal", "post-xavier", "pre-normal", "pre-xavier", "hf")


@torch.inference_mode()
def heldout_nll(variant: str, model: torch.nn.Module, data: EncodedCorpus) -> float:
    """Mean negative log-likelihood per real target token of ``data``."""
    model.eval()
    total, tokens = 0.0, 0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for indices in token_budget_batches(data.lengths(), 4096):
            batch = data.batch(indices)
            if variant == "hf":
                total += float(marian_loss(model, batch, 0.0)) * batch.num_target_tokens
            else:
                total += float(teacher_forced_loss(model, batch, 0.0)[0].nll)  # summed
            tokens += batch.num_target_tokens
    model.train()
    return total / tokens


def curve(variant: str, updates: int, every: int, out: Path) -> list[float]:
    """Held-out NLL after every ``every`` updates of ``variant``."""
    norm, init = ("post", "normal") if variant == "hf" else variant.split("-")
    config = preset(norm, init)
    tokenizer = Tokenizer.load(out / "tokenizer")
    splits = experiment_splits(config, report=lambda _: None)
    corpus = EncodedCorpus.from_pairs(tokenizer, splits.train, config.data.max_length)
    heldout = EncodedCorpus.from_pairs(tokenizer, splits.test[:500], config.data.max_length)
    torch.manual_seed(config.training.seed)
    if variant == "hf":
        model = hf_model(config, tokenizer)
        step: Callable[[list[int]], int] = hf_trainer(config, model, corpus)
    else:
        model = our_model(config, tokenizer)
        step = our_trainer(config, model, corpus, out / variant)
    rng, done, losses = random.Random(config.training.seed), 0, []
    while done < updates:
        for indices in token_budget_batches(corpus.lengths(), config.training.max_tokens, rng):
            step(indices)
            done += 1
            if done % every == 0:
                losses.append(heldout_nll(variant, model, heldout))
                print(f"{variant}: {done} updates, held-out NLL {losses[-1]:.3f}", flush=True)
            if done == updates:
                break
    return losses


def plot(curves: dict[str, list[float]], every: int, path: Path) -> None:
    series = {
        "HF MarianMTModel" if variant == "hf" else f"ours, {variant}": (
            [float(every * (i + 1)) for i in range(len(losses))],
            losses,
        )
        for variant, losses in curves.items()
    }
    labels = (
        "updates (1,024-token batches, the same for every variant)",
        "held-out NLL per target token (nats)",
        "Learning per update: initialisation and LayerNorm placement",
    )
    line_plot(series, labels, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--every", type=int, default=200, help="updates between scores")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("runs/init-curves"))
    args = parser.parse_args()
    if args.every < 1 or args.updates < args.every:
        parser.error("need 1 <= --every <= --updates")
    configure_cpu(1)
    config = preset()
    args.out.mkdir(parents=True, exist_ok=True)
    if not (args.out / "tokenizer").exists():
        splits = experiment_splits(config, report=lambda _: None)
        Tokenizer.train(
            splits.train, args.out / "tokenizer", vocab_size=config.data.vocab_size,
            joint=config.data.joint_vocab, report=lambda _: None,
        )  # fmt: skip
    curves = {
        variant: curve(variant, args.updates, args.every, args.out) for variant in args.variants
    }
    (args.out / "init_curves.json").write_text(json.dumps(curves, indent=1) + "\n")
    plot(curves, args.every, args.out / "init_curves.png")
    steps = [args.every * (i + 1) for i in range(args.updates // args.every)]
    print("\n| variant | " + " | ".join(f"{s} updates" for s in steps) + " |")
    print("|---|" + "---|" * len(steps))
    for variant, losses in curves.items():
        print(f"| {variant} | " + " | ".join(f"{x:.3f}" for x in losses) + " |")
    print(f"\nplot: {args.out / 'init_curves.png'}")


if __name__ == "__main__":
    main()
