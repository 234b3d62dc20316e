"""Translation quality against wall-clock: ours against HF MarianMTModel trained from scratch.

    python benchmarks/quality.py --minutes 30            # ~35 min: both train at once, 1 core each
    python benchmarks/quality.py --minutes 2 --points 2  # a quick check of the pipeline
    python benchmarks/quality.py --norm pre --init xavier  # ours pre-norm, Xavier-initialised

Same data (the built-in English-Chinese train split), same SentencePiece tokenizer, same model (the
quickstart preset's size: d 256, 3+3 layers, 4 heads, FFN 1024, tied embeddings; post-norm by
default, the architecture MarianMTModel has, so both engines compute the same function; every
weight drawn from N(0, 0.02) as Marian draws them), same batches in the same order (1,024-token
budget), same recipe (Adam 0.9/0.98, peak lr 1e-3 after 300 warmup updates then inverse square
root, label smoothing 0.1, clipping 1.0, dropout 0.1, bf16 autocast), same wall-clock budget. The
two trainings run at the same time in two processes of one thread each, so each has one core of
this machine. Differences that remain are the engines': ours (fused projection + loss, fast
dropout, dropout inside the feed-forward as in the notes) against HF's Marian with its standard
step (``logits`` -> ``cross_entropy``).

Each process saves its weights at ``--points`` evenly spaced moments of its training time; they
are then scored on the test split with greedy decoding (the first ``--eval-sentences``) and the
final weights also with beam 4 on the whole test split. Writes ``OUT/quality.json`` and the plot
``OUT/quality.png``, and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model

from comparison.harness import make_trainer
from hf_peer import marian, marian_loss
from transformer_mt.commands.train import experiment_splits
from transformer_mt.config import ExperimentConfig, load_config, transformer_config
from transformer_mt.config.decoding import NO_GUARDS
from transformer_mt.data.batching import token_budget_batches
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.decoding.translator import Translator
from transformer_mt.evaluation.metrics import corpus_scores
from transformer_mt.model import Transformer
from transformer_mt.model.config import INITS
from transformer_mt.runtime import configure_cpu
from transformer_mt.training.encoded import EncodedCorpus
from transformer_mt.training.schedule import inverse_sqrt_factor

ENGINES = ("ours", "hf")


NORMS = ("post", "pre")


def preset(norm: str = "post", init: str = "normal") -> ExperimentConfig:
    """The quickstart preset with our model's LayerNorm placement and initialisation set."""
    return load_config("quickstart", [f"model.norm_position={norm}", f"model.init={init}"])


def our_model(config: ExperimentConfig, tokenizer: Tokenizer) -> Transformer:
    vocab = (tokenizer.source_vocab_size, tokenizer.target_vocab_size)
    return Transformer(transformer_config(config.model, *vocab, tokenizer.joint))


def hf_model(config: ExperimentConfig, tokenizer: Tokenizer) -> torch.nn.Module:
    model = config.model
    return marian(
        tokenizer.target_vocab_size, model.d_model, model.num_encoder_layers, model.num_heads,
        model.d_ff, model.dropout,
    )  # fmt: skip


def our_trainer(
    config: ExperimentConfig, model: Transformer, corpus: EncodedCorpus, out: Path
) -> Callable[[list[int]], int]:
    trainer = make_trainer(model, corpus, config.training, out)
    return lambda indices: trainer.update([indices]).tokens


def hf_trainer(
    config: ExperimentConfig, model: torch.nn.Module, corpus: EncodedCorpus
) -> Callable[[list[int]], int]:
    training = config.training
    optimizer = torch.optim.Adam(
        model.parameters(), lr=training.lr, betas=training.adam_betas, eps=training.adam_eps
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: inverse_sqrt_factor(step + 1, training.warmup_steps)
    )

    def step(indices: list[int]) -> int:
        model.train()
        batch = corpus.batch(indices)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = marian_loss(model, batch, training.label_smoothing)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), training.clip_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        return batch.num_target_tokens

    return step


def train_engine(
    engine: str, out: Path, minutes: float, points: int, variant: tuple[str, str]
) -> None:
    """One engine's training: save weights at ``points`` evenly spaced training times."""
    configure_cpu(1)
    config = preset(*variant)
    tokenizer = Tokenizer.load(out / "tokenizer")
    splits = experiment_splits(config, report=lambda _: None)
    corpus = EncodedCorpus.from_pairs(tokenizer, splits.train, config.data.max_length)
    torch.manual_seed(config.training.seed)
    directory = out / engine
    directory.mkdir(parents=True, exist_ok=True)
    if engine == "ours":
        model: torch.nn.Module = our_model(config, tokenizer)
        step: Callable[[list[int]], int] = our_trainer(config, model, corpus, directory)
    else:
        model = hf_model(config, tokenizer)
        step = hf_trainer(config, model, corpus)
    rng = random.Random(config.training.seed)
    marks = [minutes * 60 * (i + 1) / points for i in range(points)]
    elapsed, updates, tokens = 0.0, 0, 0
    while marks:
        for indices in token_budget_batches(corpus.lengths(), config.training.max_tokens, rng):
            started = time.perf_counter()
            tokens += step(indices)
            elapsed += time.perf_counter() - started
            updates += 1
            if elapsed >= marks[0]:
                meta = {"elapsed": f"{elapsed:.1f}", "updates": str(updates), "tokens": str(tokens)}
                save_model(model, str(directory / f"point-{len(marks):02d}.safetensors"), meta)
                marks.pop(0)
                if not marks:
                    break
    print(f"{engine}: {updates} updates, {tokens / elapsed:,.0f} target tokens/s", flush=True)


def load_point(
    engine: str, path: Path, config: ExperimentConfig, tokenizer: Tokenizer
) -> tuple[torch.nn.Module, dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    model = our_model(config, tokenizer) if engine == "ours" else hf_model(config, tokenizer)
    load_model(model, str(path))
    return model.eval(), meta


def translate(
    engine: str, model: torch.nn.Module, tokenizer: Tokenizer, sources: list[str], beam: int
) -> list[str]:
    config = preset().evaluation
    if engine == "ours":
        return Translator(model, tokenizer, torch.device("cpu")).translate(
            sources, beam_size=beam, max_length_ratio=config.max_length_ratio,
            max_length_offset=config.max_length_offset, batch_size=64,
            **NO_GUARDS,  # HF generate has no such guards: compare the models alone
        )  # fmt: skip
    encoded = tokenizer.encode_source(sources)
    order = sorted(range(len(sources)), key=lambda i: len(encoded[i]))
    outputs: dict[int, str] = {}
    with torch.inference_mode():
        for start in range(0, len(order), 64):
            chunk = order[start : start + 64]
            ids = [encoded[i] + [3] for i in chunk]
            width = max(len(s) for s in ids)
            src = torch.tensor([s + [0] * (width - len(s)) for s in ids])
            limit = int(config.max_length_ratio * width + config.max_length_offset)
            generated = model.generate(
                input_ids=src, attention_mask=src != 0, num_beams=beam, max_new_tokens=limit,
                decoder_start_token_id=2, eos_token_id=3, pad_token_id=0, do_sample=False,
                length_penalty=1.0, early_stopping=beam > 1,
            )  # fmt: skip
            for i, row in zip(chunk, generated.tolist(), strict=True):
                tokens = [t for t in row[1:] if t not in (0, 2)]
                tokens = tokens[: tokens.index(3)] if 3 in tokens else tokens
                outputs[i] = tokenizer.decode_target([tokens])[0]
    return [outputs[i] for i in range(len(sources))]


def evaluate_points(
    out: Path, eval_sentences: int, final_sentences: int | None, variant: tuple[str, str]
) -> list[dict]:
    configure_cpu(None)
    config = preset(*variant)
    tokenizer = Tokenizer.load(out / "tokenizer")
    test = experiment_splits(config, report=lambda _: None).test
    sources, references = [s for s, _ in test], [t for _, t in test]
    rows = []
    for engine in ENGINES:
        points = sorted((out / engine).glob("point-*.safetensors"), reverse=True)  # earliest first
        for index, path in enumerate(points):
            model, meta = load_point(engine, path, config, tokenizer)
            hyps = translate(engine, model, tokenizer, sources[:eval_sentences], beam=1)
            greedy = corpus_scores(hyps, references[:eval_sentences])
            row = {"engine": engine, "minutes": float(meta["elapsed"]) / 60,
                   "updates": int(meta["updates"]), "greedy_bleu": greedy.bleu,
                   "greedy_chrf": greedy.chrf}  # fmt: skip
            if index == len(points) - 1:
                final_sources = sources[:final_sentences]
                hyps = translate(engine, model, tokenizer, final_sources, 4)
                final = corpus_scores(hyps, references[: len(final_sources)])
                row |= {"beam4_bleu": final.bleu, "beam4_chrf": final.chrf}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


Series = dict[str, tuple[list[float], list[float]]]  # label -> (x values, y values)


def line_plot(series: Series, labels: tuple[str, str, str], path: Path) -> None:
    """One marked line per label; ``labels`` = (x axis, y axis, title). Saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for label, (xs, ys) in series.items():
        axis.plot(xs, ys, marker="o", label=label)
    xlabel, ylabel, title = labels
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot(rows: list[dict], path: Path) -> None:
    series = {
        label: ([r["minutes"] for r in rows if r["engine"] == engine],
                [r["greedy_bleu"] for r in rows if r["engine"] == engine])
        for engine, label in (("ours", "transformer-mt"), ("hf", "HF MarianMTModel"))
    }  # fmt: skip
    labels = (
        "training time (minutes, one CPU core each)",
        "test BLEU (greedy, sacreBLEU tok:zh)",
        "English→Chinese, built-in data, same size, data, tokenizer and budget",
    )
    line_plot(series, labels, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget per engine")
    parser.add_argument("--points", type=int, default=6, help="snapshots along the budget")
    parser.add_argument("--eval-sentences", type=int, default=500, help="greedy, every point")
    parser.add_argument("--final-sentences", type=int, help="beam 4, last point (default: all)")
    parser.add_argument("--out", type=Path, default=Path("runs/quality-benchmark"))
    parser.add_argument(
        "--norm", choices=NORMS, default="post", help="our model's LayerNorm placement"
    )
    parser.add_argument(
        "--init", choices=INITS, default="normal", help="our model's weight initialisation"
    )
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)  # a worker process
    args = parser.parse_args()
    variant = (args.norm, args.init)
    if args.engine:
        train_engine(args.engine, args.out, args.minutes, args.points, variant)
        return
    config = preset(*variant)
    splits = experiment_splits(config, report=lambda _: None)
    args.out.mkdir(parents=True, exist_ok=True)
    Tokenizer.train(
        splits.train, args.out / "tokenizer", vocab_size=config.data.vocab_size,
        joint=config.data.joint_vocab, report=lambda _: None,
    )  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen([sys.executable, __file__, "--engine", engine, "--out", str(args.out),
                          "--minutes", str(args.minutes), "--points", str(args.points),
                          "--norm", args.norm, "--init", args.init], env=env)
        for engine in ENGINES
    ]  # fmt: skip
    if any(worker.wait() != 0 for worker in workers):
        sys.exit("a training process failed")
    rows = evaluate_points(args.out, args.eval_sentences, args.final_sentences, variant)
    (args.out / "quality.json").write_text(json.dumps(rows, indent=2) + "\n")
    plot(rows, args.out / "quality.png")
    print("\n| engine | minutes | updates | greedy BLEU | greedy chrF | beam-4 BLEU |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        beam = f"{row['beam4_bleu']:.2f}" if "beam4_bleu" in row else ""
        print(f"| {row['engine']} | {row['minutes']:.1f} | {row['updates']} | "
              f"{row['greedy_bleu']:.2f} | {row['greedy_chrf']:.2f} | {beam} |")  # fmt: skip
    print(f"\nplot: {args.out / 'quality.png'}")


if __name__ == "__main__":
    main()
