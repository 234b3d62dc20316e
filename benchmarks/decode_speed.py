"""Decoding speed: ours (fp32 / bf16 / int8) vs HF ``generate`` vs CTranslate2 (float32 / int8).

    python benchmarks/decode_speed.py                                  # random Transformer-base
    python benchmarks/decode_speed.py --run /work/models/quickstart     # a trained run
    python benchmarks/decode_speed.py --engines ours-fp32 hf --cases b1-greedy --repeats 3
    python benchmarks/decode_speed.py --lengths 16 32 64 128 256        # time per token vs length
    python benchmarks/decode_speed.py --run RUN --engines ours-int8 ct2-int8 --rounds 3  # A B A B

Every engine decodes the same weights (HF and CTranslate2 get them through ``transformer-mt
export``'s code) from the same sources: for a trained run (``--run``) its first test sentences
of 8-24 tokens (``ours-int8-shortlist`` needs the run's ``transformer-mt shortlist``), for the
random model 24 random word ids and ``</s>``. Outputs are forced to
exactly ``--length`` target tokens (``</s>`` is suppressed until then), so every engine does
the same work whatever the weights. Each engine runs in its own process (one after another), so
its peak resident memory (``ru_maxrss``: the model, the runtime and the decoding) is its own.

Threads: ours and HF run with ``--threads`` torch threads. CTranslate2 runs in its best setting on
2-vCPU machines: ``intra_threads=1`` at batch 1, and, given two threads, ``inter_threads=2,
intra_threads=1`` with the batch split in halves (``max_batch_size``) at batch 32. With
``--threads 1`` every engine uses one core (the stable setting on a shared machine). Cells are
the median of ``--repeats`` timed calls after one warm-up call. Timings on a shared machine are
noisy: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.artifacts.weights import load_weights
from transformer_mt.decoding.beam import BeamSearch
from transformer_mt.decoding.search import GreedySearch, StepModel
from transformer_mt.inference.convert import convert_for_inference
from transformer_mt.inference.model import InferenceTransformer
from transformer_mt.inference.shortlist import FILE_NAME as SHORTLIST_FILE
from transformer_mt.inference.shortlist import Shortlist
from transformer_mt.model import DecoderCache, Transformer, TransformerConfig
from transformer_mt.runtime import cpu_summary

ENGINES = (
    "ours-fp32",
    "ours-bf16",
    "ours-int8",
    "ours-int8-shortlist",
    "hf",
    "ct2-float32",
    "ct2-int8",
)
CASES = {"b1-greedy": (1, 1), "b1-beam4": (1, 4), "b32-greedy": (32, 1), "b32-beam4": (32, 4)}
SOURCE_LENGTH = 24


@dataclass(frozen=True)
class Setup:
    """What every engine process rebuilds identically."""

    run: str | None  # a trained run directory, or None for a random Transformer-base
    vocab: int  # random model only
    threads: int
    repeats: int


def build_model(setup: Setup) -> Transformer:
    """The trained run's best weights, or a seeded random Transformer-base (6+6, d 512)."""
    if setup.run is not None:
        run = RunDir(Path(setup.run))
        model = Transformer(run.read_model_config())
        load_weights(model, run.require_weights())
        return model.eval()
    torch.manual_seed(0)
    config = TransformerConfig(src_vocab_size=setup.vocab, tgt_vocab_size=setup.vocab, dropout=0)
    return Transformer(config).eval()


def sources(batch: int, vocab: int, run: str | None = None) -> torch.Tensor:
    """``(B, S)`` source ids ending with ``</s>``, the same in every process: for a trained run,
    its first test sentences with at least 8 tokens (at most 24, then ``</s>``; padded); else
    random word ids (no specials), 24 and ``</s>``."""
    if run is not None:
        return run_sentences(run, batch)
    generator = torch.Generator().manual_seed(batch)
    ids = torch.randint(4, vocab, (batch, SOURCE_LENGTH + 1), generator=generator)
    ids[:, -1] = 3
    return ids


def run_sentences(run: str, batch: int) -> torch.Tensor:
    from transformer_mt.commands.evaluate import split_pairs
    from transformer_mt.data.batching import pad_sequences
    from transformer_mt.data.tokenizer import Tokenizer

    texts, _ = split_pairs(Path(run), "test", lambda _: None)
    tokenizer = Tokenizer.load(RunDir(Path(run)).tokenizer_dir)
    encoded = [ids for ids in tokenizer.encode_source(texts[: 20 * batch]) if len(ids) >= 8]
    chosen = [[*ids[:SOURCE_LENGTH], tokenizer.eos_id] for ids in encoded[:batch]]
    return pad_sequences(chosen, tokenizer.pad_id)


class ForcedLength:
    """A StepModel that never ends early: ``</s>`` gets -inf, so outputs hit their length limit."""

    def __init__(self, model: Transformer) -> None:
        self.model = model
        self.config = model.config

    def encode(self, src_ids: torch.Tensor) -> torch.Tensor:
        return self.model.encode(src_ids)

    def start_cache(self, memory: torch.Tensor, src_ids: torch.Tensor, **options: int) -> Any:
        return self.model.start_cache(memory, src_ids, **options)

    def decode_step(
        self, tokens: torch.Tensor, cache: DecoderCache
    ) -> tuple[torch.Tensor, DecoderCache]:
        logits, cache = self.model.decode_step(tokens, cache)
        logits[:, self.config.eos_id] = float("-inf")
        return logits, cache

    def step_log_probs(
        self, tokens: torch.Tensor, cache: DecoderCache
    ) -> tuple[torch.Tensor, DecoderCache]:
        """The model's own log-softmax step where it has one (the search's usual path)."""
        if not hasattr(self.model, "step_log_probs"):
            logits, cache = self.decode_step(tokens, cache)
            return logits.float().log_softmax(dim=-1), cache
        log_probs, cache = self.model.step_log_probs(tokens, cache)
        log_probs[:, self.config.eos_id] = float("-inf")
        return log_probs, cache


Decoder = Callable[[torch.Tensor, int, int], None]  # (src_ids, beams, length)


def ours(model: Transformer, dtype: str, shortlist: Shortlist | None = None) -> Decoder:
    converted = convert_for_inference(model, dtype, torch.device("cpu"), fast=True)
    if shortlist is not None:
        assert isinstance(converted, InferenceTransformer)
        converted.shortlist = shortlist
    forced: StepModel = ForcedLength(converted)

    def decode(src: torch.Tensor, beams: int, length: int) -> None:
        strategy = GreedySearch() if beams == 1 else BeamSearch(beam_size=beams)
        limits = torch.full((src.shape[0],), length)
        found = strategy.search(forced, src, limits)
        assert all(len(hyps[0].tokens) == length for hyps in found)

    return decode


def huggingface(model: Transformer) -> Decoder:
    from transformer_mt.export.hf import hf_model

    reference = hf_model(model)

    @torch.inference_mode()
    def decode(src: torch.Tensor, beams: int, length: int) -> None:
        output = reference.generate(
            input_ids=src,
            attention_mask=torch.ones_like(src),
            num_beams=beams,
            min_new_tokens=length,
            max_new_tokens=length,
            early_stopping=True,
        )
        assert output.shape[1] == length + 1  # the start token and exactly `length` more

    return decode


def ctranslate2_engine(model: Transformer, quantization: str, threads: int) -> Decoder:
    import ctranslate2

    from transformer_mt.export.ct2 import model_spec

    vocab = ["<pad>", "<unk>", "<s>", "</s>"] + [
        f"w{i}" for i in range(4, model.config.tgt_vocab_size)
    ]
    spec = model_spec(model, vocab, vocab)
    out = Path(tempfile.mkdtemp()) / "ct2"
    spec.validate()
    spec.optimize(quantization=quantization)
    out.mkdir()
    spec.save(str(out))
    engines = {
        1: ctranslate2.Translator(str(out), device="cpu", intra_threads=1),
        2: ctranslate2.Translator(str(out), device="cpu", inter_threads=2, intra_threads=1),
    }

    def decode(src: torch.Tensor, beams: int, length: int) -> None:
        batch = [[vocab[i] for i in row] for row in src.tolist()]
        workers = 1 if len(batch) == 1 else min(threads, 2)
        results = engines[workers].translate_batch(
            batch,
            beam_size=beams,
            min_decoding_length=length,
            max_decoding_length=length,
            max_batch_size=max(1, len(batch) // workers),
            suppress_sequences=[["<pad>"], ["<s>"]],
        )
        assert all(len(r.hypotheses[0]) == length for r in results)

    return decode


def make_decoder(engine: str, model: Transformer, threads: int, run: str | None) -> Decoder:
    if engine.startswith("ours-"):
        if engine == "ours-int8-shortlist":
            assert run is not None, "the shortlist engine needs --run (and its shortlist)"
            return ours(model, "int8", Shortlist.load(Path(run) / SHORTLIST_FILE))
        return ours(model, engine.removeprefix("ours-"))
    if engine == "hf":
        return huggingface(model)
    return ctranslate2_engine(model, engine.removeprefix("ct2-"), threads)


def median_seconds(
    decode: Decoder, src: torch.Tensor, beams: int, length: int, repeats: int
) -> float:
    decode(src, beams, length)  # warm-up
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        decode(src, beams, length)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def run_engine(
    engine: str, setup: Setup, cases: list[str], lengths: list[int], length: int
) -> dict[str, Any]:
    """Inside one engine's process: tokens/s per case and seconds per token per length."""
    torch.set_num_threads(setup.threads)
    torch.set_flush_denormal(True)
    model = build_model(setup)
    decode = make_decoder(engine, model, setup.threads, setup.run)
    vocab = model.config.src_vocab_size
    speed = {}
    for case in cases:
        batch, beams = CASES[case]
        src = sources(batch, vocab, setup.run)
        seconds = median_seconds(decode, src, beams, length, setup.repeats)
        speed[case] = batch * length / seconds
    per_token = {}
    for steps in lengths:
        seconds = median_seconds(decode, sources(1, vocab, setup.run), 1, steps, setup.repeats)
        per_token[str(steps)] = 1000 * seconds / steps
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"engine": engine, "speed": speed, "per_token": per_token, "peak_mb": peak_mb}


def median_result(found: list[dict[str, Any]]) -> dict[str, Any]:
    """One engine's cells as medians over its rounds."""

    def middle(key: str) -> dict[str, float]:
        return {cell: statistics.median(r[key][cell] for r in found) for cell in found[0][key]}

    peak = max(r["peak_mb"] for r in found)
    return {
        "engine": found[0]["engine"],
        "speed": middle("speed"),
        "per_token": middle("per_token"),
        "peak_mb": peak,
    }


def print_tables(
    results: list[dict[str, Any]], cases: list[str], lengths: list[int], length: int
) -> None:
    by_engine = {r["engine"]: r for r in results}
    baseline = by_engine.get("hf")
    print(f"\ntarget tokens/s ({length} forced tokens; ratio to HF generate in brackets)")
    header = f"{'engine':<13}" + "".join(f"{c:>20}" for c in cases) + f"{'peak RSS MB':>13}"
    print(header)
    for engine, result in by_engine.items():
        cells = []
        for case in cases:
            value = result["speed"][case]
            ratio = f" ({value / baseline['speed'][case]:.2f}x)" if baseline else ""
            cells.append(f"{value:>12,.0f}{ratio:>8}")
        print(f"{engine:<13}" + "".join(f"{c:>20}" for c in cells) + f"{result['peak_mb']:>13,.0f}")
    best_ct2 = by_engine.get("ct2-int8")
    if best_ct2:
        print("\nours / CTranslate2 int8 (its best threading)")
        for engine in (e for e in by_engine if e.startswith("ours")):
            ratios = (by_engine[engine]["speed"][c] / best_ct2["speed"][c] for c in cases)
            print(f"{engine:<13}" + "".join(f"{r:>19.2f}x" for r in ratios))
    if lengths:
        print("\nms per generated token, batch 1 greedy, by output length")
        print(f"{'engine':<13}" + "".join(f"{n:>9}" for n in lengths))
        for engine, result in by_engine.items():
            print(
                f"{engine:<13}" + "".join(f"{result['per_token'][str(n)]:>9.2f}" for n in lengths)
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="trained run directory (default: random Transformer-base)")
    parser.add_argument("--vocab", type=int, default=16000, help="random model's vocabulary")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--length", type=int, default=32, help="forced output tokens")
    parser.add_argument("--lengths", nargs="*", type=int, default=[], help="per-token sweep")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (ours, HF)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every engine's process this many times, in turn (A B A B ...); cells are "
        "the medians over rounds, so that a machine whose speed drifts treats all alike",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one engine
    args = parser.parse_args()
    setup = Setup(args.run, args.vocab, args.threads, args.repeats)
    if args.worker:
        result = run_engine(args.worker, setup, args.cases, args.lengths, args.length)
        print(json.dumps(result))
        return
    rounds: dict[str, list[dict[str, Any]]] = {engine: [] for engine in args.engines}
    for _ in range(args.rounds):
        for engine in args.engines:
            command = [sys.executable, __file__, *sys.argv[1:], "--worker", engine]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{engine}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            rounds[engine].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"{engine}: done", file=sys.stderr)
    results = [median_result(found) for found in rounds.values() if found]
    model = args.run or f"random Transformer-base (V={args.vocab})"
    print(f"CPU: {cpu_summary()}")
    print(
        f"model: {model}; torch threads {args.threads}; {args.repeats} timed calls per cell; "
        f"median of {args.rounds} round(s)"
    )
    print_tables(results, args.cases, args.lengths, args.length)


if __name__ == "__main__":
    main()
