"""The Trainer end to end: a tiny model learns the copy task (the Annotated Transformer's check).

Token ids: 0 <pad>, 1 <unk>, 2 <s>, 3 </s>, symbols 4..23.
"""

from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

import torch

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.artifacts.weights import load_weights
from transformer_mt.config import TrainingConfig
from transformer_mt.data.batching import pad_sequences
from transformer_mt.decoding.search import GreedySearch
from transformer_mt.evaluation.metrics import corpus_scores
from transformer_mt.model import Transformer, TransformerConfig
from transformer_mt.training.encoded import EncodedCorpus
from transformer_mt.training.trainer import Trainer

EOS, FIRST_SYMBOL, VOCAB = 3, 4, 24


def random_sequences(count: int, rng: random.Random) -> list[list[int]]:
    return [
        [rng.randrange(FIRST_SYMBOL, VOCAB) for _ in range(rng.randint(1, 6))] for _ in range(count)
    ]


def greedy_copies(model: Transformer, sequences: list[list[int]]) -> list[list[int]]:
    """Greedy outputs without </s>; ``(B, S)`` sources padded, room for 4 extra tokens."""
    src_ids = pad_sequences([[*s, EOS] for s in sequences], pad_id=0)  # (B, S)
    limits = torch.tensor([len(s) + 4 for s in sequences])  # (B,)
    found = GreedySearch().search(model.eval(), src_ids, limits)
    return [[t for t in hyps[0].tokens if t != EOS] for hyps in found]


def test_trainer_learns_to_copy(tmp_path: Path) -> None:
    rng = random.Random(0)
    train, held_out = random_sequences(3000, rng), random_sequences(200, rng)
    train_set = {tuple(s) for s in train}
    held_out = [s for s in held_out if tuple(s) not in train_set]  # really unseen (long ones)
    torch.manual_seed(0)
    model = Transformer(
        TransformerConfig(
            src_vocab_size=VOCAB,
            tgt_vocab_size=VOCAB,
            d_model=32,
            num_heads=2,
            num_encoder_layers=1,
            num_decoder_layers=1,
            d_ff=64,
            dropout=0.0,
            max_positions=32,
            init="xavier",  # width 32: N(0, 0.02) learns too slowly for 300 steps
        )
    )
    config = TrainingConfig(
        max_steps=300,
        max_tokens=640,
        lr=0.01,
        warmup_steps=50,
        label_smoothing=0.0,
        precision="fp32",
        device="cpu",
        validate_every=150,
        bleu_every=150,
        bleu_sentences=50,
        log_every=50,
    )

    def bleu(sentences: list[str], references: list[str]) -> tuple[float, float]:
        """Sentences are space-separated token ids; the BLEU check decodes them greedily."""
        outputs = greedy_copies(model, [[int(t) for t in s.split()] for s in sentences])
        scores = corpus_scores([" ".join(map(str, tokens)) for tokens in outputs], references)
        return scores.bleu, scores.chrf

    valid_pairs = [(" ".join(map(str, s)),) * 2 for s in held_out]
    reports: list[str] = []
    trainer = Trainer(
        model,
        EncodedCorpus(train, train),
        EncodedCorpus(held_out, held_out),
        config,
        run=RunDir(tmp_path),
        bleu=bleu,
        valid_pairs=valid_pairs,
        device=torch.device("cpu"),
        report=reports.append,
    )
    state = trainer.run()

    outputs = greedy_copies(model, held_out)
    accuracy = sum(out == src for out, src in zip(outputs, held_out, strict=True)) / len(held_out)
    assert accuracy >= 0.9

    assert state.step == 300
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    valid = [r for r in records if r["kind"] == "valid"]
    assert [r["step"] for r in valid] == [150, 300]  # the last one is the final validation
    assert valid[-1]["valid_loss"] < valid[0]["valid_loss"]
    assert valid[-1]["valid_acc"] > 0.9  # teacher-forced token accuracy
    assert valid[-1]["valid_bleu"] > 80
    assert state.best_score == max(r["valid_bleu"] for r in valid)
    assert [r["step"] for r in records if r["kind"] == "train"] == [50, 100, 150, 200, 250, 300]
    assert len(reports) == 2

    last = Transformer(model.config)
    load_weights(last, tmp_path / "last.safetensors")
    assert greedy_copies(last, held_out) == outputs
    best = Transformer(model.config)
    load_weights(best, tmp_path / "model.safetensors")  # saved at the best validation BLEU
    bleu_sources = held_out[: config.bleu_sentences]
    hypotheses = [" ".join(map(str, out)) for out in greedy_copies(best, bleu_sources)]
    references = [" ".join(map(str, s)) for s in bleu_sources]
    assert corpus_scores(hypotheses, references).bleu == state.best_score


def test_ctrl_c_keeps_the_latest_weights(tmp_path: Path, monkeypatch) -> None:
    """An interrupted run leaves last.safetensors, and the run directory stays usable."""
    import pytest

    from transformer_mt.artifacts.rundir import RunDir

    torch.manual_seed(0)
    config = TransformerConfig(
        src_vocab_size=VOCAB, tgt_vocab_size=VOCAB, d_model=16, num_heads=2,
        num_encoder_layers=1, num_decoder_layers=1, d_ff=32, max_positions=32,
    )  # fmt: skip
    model = Transformer(config)
    sequences = random_sequences(50, random.Random(1))
    data = EncodedCorpus(sequences, sequences)
    trainer = Trainer(
        model,
        data,
        data,
        TrainingConfig(max_steps=100, max_tokens=64, precision="fp32", device="cpu"),
        run=RunDir(tmp_path),
        bleu=lambda sources, references: (0.0, 0.0),
        valid_pairs=[],
        device=torch.device("cpu"),
        report=lambda message: None,
    )
    update = trainer.update
    calls = []

    def interrupted_update(group):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:  # Ctrl-C mid-update: the update still completes, then a checkpoint
            os.kill(os.getpid(), signal.SIGINT)
        return update(group)

    monkeypatch.setattr(trainer, "update", interrupted_update)
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert RunDir(tmp_path).require_weights() == tmp_path / "last.safetensors"
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000003.safetensors"]
    assert len(calls) == 3
    restored = Transformer(config)
    load_weights(restored, tmp_path / "last.safetensors")
    for mine, theirs in zip(model.parameters(), restored.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs)
