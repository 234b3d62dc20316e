"""Exposure bias: the model under teacher forcing versus running on its own output.

Training always shows the decoder the reference prefix (teacher forcing); translation shows it
the model's own earlier choices. On held-out sentence pairs this measures, per target position:

- **teacher forced**: one parallel pass over ``<s> + y``; accuracy = argmax equals ``y_t``,
  loss = ``-log p(y_t | y_<t)``;
- **free running**: the real greedy search (limited to the reference length); accuracy = the
  greedy token equals ``y_t``; loss = ``-log p(y_t | ŷ_<t)``, the reference token after the
  model's own prefix (counted while that prefix has not ended);
- **k injected errors**: teacher forcing with ``k`` reference tokens of the decoder input replaced
  by plausible mistakes (the model's most probable wrong token at that position), at positions
  drawn with a seeded RNG; accuracy and loss over all positions. ``k = 0`` is teacher forcing.

Shape letters: B sentences in a batch, T target length + 1, V target vocabulary.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from transformer_mt.data.batching import Batch
from transformer_mt.decoding.search import GreedySearch
from transformer_mt.decoding.translator import Translator
from transformer_mt.errors import UserError


@dataclass(frozen=True)
class PositionCurve:
    """Token accuracy and loss per target position (index 0 predicts the first token)."""

    accuracy: list[float]  # correct / tokens at each position
    loss: list[float]  # mean negative log-likelihood of the reference token (nan: none counted)
    tokens: list[int]  # sentences whose reference reaches this position
    loss_tokens: list[int]  # positions whose loss was counted
    overall_accuracy: float  # token-weighted over all positions
    overall_loss: float


@dataclass(frozen=True)
class Injection:
    injected: int  # k wrong tokens put into each decoder input (fewer if the sentence is short)
    accuracy: float
    loss: float


@dataclass(frozen=True)
class ExposureBias:
    sentences: int
    teacher_forced: PositionCurve
    free_running: PositionCurve
    injections: list[Injection]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for curve in ("teacher_forced", "free_running"):  # NaN is not JSON
            data[curve]["loss"] = [None if np.isnan(x) else x for x in data[curve]["loss"]]
        return data


class _Totals:
    """Per-position sums, grown as longer batches arrive."""

    def __init__(self) -> None:
        self.correct = np.zeros(0)
        self.tokens = np.zeros(0)
        self.loss = np.zeros(0)
        self.loss_tokens = np.zeros(0)

    def add(
        self, correct: torch.Tensor, counted: torch.Tensor, nll: torch.Tensor, scored: torch.Tensor
    ) -> None:
        """All ``(B, T)``: correct, counted (accuracy), nll, scored (loss) per position."""
        length = correct.shape[1]
        if length > len(self.correct):
            grow = length - len(self.correct)
            for name in ("correct", "tokens", "loss", "loss_tokens"):
                setattr(self, name, np.concatenate([getattr(self, name), np.zeros(grow)]))
        self.correct[:length] += (correct & counted).sum(0).cpu().numpy()
        self.tokens[:length] += counted.sum(0).cpu().numpy()
        self.loss[:length] += torch.where(scored, nll, 0.0).sum(0).cpu().double().numpy()
        self.loss_tokens[:length] += scored.sum(0).cpu().numpy()

    def curve(self) -> PositionCurve:
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy = self.correct / self.tokens
            loss = self.loss / self.loss_tokens
        return PositionCurve(
            accuracy=[float(x) for x in np.nan_to_num(accuracy)],
            loss=[float(x) for x in loss],
            tokens=[int(x) for x in self.tokens],
            loss_tokens=[int(x) for x in self.loss_tokens],
            overall_accuracy=float(self.correct.sum() / max(self.tokens.sum(), 1)),
            overall_loss=float(self.loss.sum() / max(self.loss_tokens.sum(), 1)),
        )


@torch.inference_mode()
def exposure_bias(
    translator: Translator,
    pairs: Sequence[tuple[str, str]],
    *,
    injections: Sequence[int] = (0, 1, 2, 4),
    batch_size: int = 32,
    seed: int = 0,
    progress: bool = False,
) -> ExposureBias:
    """Teacher-forced versus free-running accuracy and loss on ``pairs`` (source, reference)."""
    pairs = [(s, t) for s, t in pairs if s.strip() and t.strip()]
    if not pairs:
        raise UserError("no sentence pairs to measure exposure bias on")
    if batch_size < 1 or any(k < 0 for k in injections):
        raise ValueError("batch_size must be positive and injection counts non-negative")
    batches = _batches(translator, pairs, batch_size)
    forced, free = _Totals(), _Totals()
    injected = {k: _Totals() for k in injections}
    for first, batch in tqdm(batches, desc="exposure bias", unit="batch", disable=not progress):
        batch = batch.to(translator.device)
        log_probs = _log_probs(translator, batch, batch.tgt_in_ids)  # (B, T, V)
        real = batch.tgt_out_ids != batch.pad_id  # (B, T)
        correct, nll = _scores(log_probs, batch.tgt_out_ids)
        forced.add(correct, real, nll, real)
        free.add(*_free_running(translator, batch, real))
        plausible = _plausible_mistakes(log_probs, batch.tgt_out_ids, translator)  # (B, T)
        for k, totals in injected.items():
            decoder_input = _inject(batch.tgt_in_ids, plausible, real, k, seed, first)
            corrupted = _log_probs(translator, batch, decoder_input)  # (B, T, V)
            correct, nll = _scores(corrupted, batch.tgt_out_ids)
            totals.add(correct, real, nll, real)
    results = [(k, t.curve()) for k, t in injected.items()]
    return ExposureBias(
        sentences=len(pairs),
        teacher_forced=forced.curve(),
        free_running=free.curve(),
        injections=[Injection(k, c.overall_accuracy, c.overall_loss) for k, c in results],
    )


def _batches(
    translator: Translator, pairs: Sequence[tuple[str, str]], batch_size: int
) -> list[tuple[int, Batch]]:
    """Batches of similar lengths, each with the index of its first pair (for seeding)."""
    tokenizer, config = translator.tokenizer, translator.model.config
    limit = config.max_positions - 1
    sources = [ids[:limit] for ids in tokenizer.encode_source([s for s, _ in pairs])]
    targets = [ids[:limit] for ids in tokenizer.encode_target([t for _, t in pairs])]
    order = sorted(range(len(pairs)), key=lambda i: (len(targets[i]), len(sources[i])))
    batches = []
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = Batch.from_token_ids(
            [sources[i] for i in chunk],
            [targets[i] for i in chunk],
            pad_id=config.pad_id,
            bos_id=config.bos_id,
            eos_id=config.eos_id,
        )
        batches.append((start, batch))
    return batches


def _log_probs(translator: Translator, batch: Batch, decoder_input: torch.Tensor) -> torch.Tensor:
    return translator.model(batch.src_ids, decoder_input).float().log_softmax(dim=-1)


def _scores(log_probs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax hits and negative log-likelihoods of ``targets`` ``(B, T)``."""
    correct = log_probs.argmax(dim=-1) == targets  # (B, T)
    nll = -log_probs.gather(2, targets[:, :, None])[:, :, 0]  # (B, T)
    return correct, nll


def _free_running(
    translator: Translator, batch: Batch, real: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Greedy outputs against the references, and the reference loss after the model's prefix."""
    config = translator.model.config
    lengths = real.sum(dim=1)  # (B,) reference tokens + </s>
    found = GreedySearch().search(translator.model, batch.src_ids, lengths)
    size, length = batch.tgt_out_ids.shape
    generated = torch.full((size, length), config.pad_id, dtype=torch.long)  # (B, T)
    prefix_ok = torch.zeros(size, length, dtype=torch.bool)  # (B, T) prefix has not ended
    for row, (hypothesis,) in enumerate(found):
        tokens = list(hypothesis.tokens)[:length]
        generated[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        open_prefix = len(tokens) - (1 if tokens and tokens[-1] == config.eos_id else 0)
        prefix_ok[row, : open_prefix + 1] = True
    generated, prefix_ok = generated.to(real.device), prefix_ok.to(real.device)
    decoder_input = torch.cat([batch.tgt_in_ids[:, :1], generated[:, :-1]], dim=1)  # (B, T)
    _, nll = _scores(_log_probs(translator, batch, decoder_input), batch.tgt_out_ids)
    correct = generated == batch.tgt_out_ids  # (B, T)
    return correct, real, nll, real & prefix_ok


def _plausible_mistakes(
    log_probs: torch.Tensor, targets: torch.Tensor, translator: Translator
) -> torch.Tensor:
    """The most probable token other than the target (and the specials) at each position."""
    config = translator.model.config
    scores = log_probs.scatter(2, targets[:, :, None], float("-inf"))  # (B, T, V)
    specials = [config.pad_id, translator.tokenizer.unk_id, config.bos_id, config.eos_id]
    scores[:, :, specials] = float("-inf")
    return scores.argmax(dim=-1)  # (B, T)


def _inject(
    decoder_input: torch.Tensor,
    plausible: torch.Tensor,
    real: torch.Tensor,
    k: int,
    seed: int,
    first: int,
) -> torch.Tensor:
    """Replace ``k`` reference tokens of each decoder input ``(B, T)`` by plausible mistakes.

    Decoder input position ``p`` holds ``y_p``, the target of position ``p - 1``, so its
    plausible mistake is ``plausible[:, p - 1]``. Position 0 (``<s>``) is never replaced.
    """
    corrupted = decoder_input.clone()
    if k == 0:
        return corrupted
    for row, length in enumerate(real.sum(dim=1).tolist()):
        rng = random.Random(f"{seed}/{k}/{first + row}")
        for position in rng.sample(range(1, length), min(k, length - 1)):
            corrupted[row, position] = plausible[row, position - 1]
    return corrupted
