"""One update: teacher-forced loss over several batches (accumulation, workers), then a step.

The update's loss is the sum over every real target token of all its batches, on all workers,
divided by that total token count, so an update is the same whatever way its batches are split:
one process accumulating 4 batches, or 2 workers accumulating 2 each (tested).

Shape letters: B sentences, S source length, T target length + 1, D model width, N real tokens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from transformer_mt.data.batching import Batch
from transformer_mt.model.factory import Model
from transformer_mt.training.encoded import TrainingCorpus
from transformer_mt.training.loss import (
    LossOutput,
    logits_cross_entropy,
    projection_cross_entropy,
)


def teacher_forced_loss(
    model: Model, batch: Batch, label_smoothing: float
) -> tuple[LossOutput, int]:
    """Summed loss over the batch's real target tokens, all positions in one pass."""
    memory = model.encode(batch.src_ids)  # (B, S, D)
    hidden = model.decode(batch.tgt_in_ids, memory, batch.src_ids)  # (B, T, D)
    real = batch.tgt_out_ids != batch.pad_id  # (B, T)
    # Padding rows never reach the vocabulary projection: that is most of the step's work.
    if model.output_projection.bias is not None:  # an imported MarianMT's logits bias
        logits = model.project(hidden[real])  # (N, V)
        output = logits_cross_entropy(logits, batch.tgt_out_ids[real], label_smoothing)
        return output, int(real.sum())
    output = projection_cross_entropy(
        hidden[real], model.output_projection.weight, batch.tgt_out_ids[real], label_smoothing
    )  # over (N, D)
    return output, int(real.sum())


class TeacherForcing(nn.Module):
    """The model with the loss as its ``forward``: what DistributedDataParallel wraps."""

    def __init__(self, model: Model, label_smoothing: float) -> None:
        super().__init__()
        self.model = model
        self.label_smoothing = label_smoothing

    def forward(self, batch: Batch) -> LossOutput:
        return teacher_forced_loss(self.model, batch, self.label_smoothing)[0]


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[None]:
    """Mixed precision for ``precision`` plus the attention kernel that is fastest here."""
    stack = contextlib.ExitStack()
    if precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        stack.enter_context(torch.autocast(device.type, dtype=dtype))
    if device.type == "cpu":
        # For short sentences the explicit (math) attention is ~3x faster than the CPU flash
        # kernel, whose bf16 backward dominated the step in profiles on this hardware.
        stack.enter_context(sdpa_kernel([SDPBackend.MATH]))
    return stack


@dataclass
class UpdateResult:
    nll: float  # summed over the update's real target tokens (all workers)
    tokens: int  # real target tokens in the update (all workers)


def accumulate_gradients(
    loss_module: nn.Module,
    batches: Sequence[Batch],
    *,
    total_tokens: int,
    scale: float,
    device: torch.device,
    precision: str,
    scaler: torch.amp.GradScaler | None,
) -> float:
    """Backward through each of this worker's ``batches``; returns their summed nll.

    Each batch's summed loss is multiplied by ``scale / total_tokens`` (``scale`` is the number
    of workers, undoing DistributedDataParallel's gradient averaging). Gradient synchronisation
    (if any) happens on the last batch only.
    """
    nll = 0.0
    for index, batch in enumerate(batches):
        last = index == len(batches) - 1
        sync = loss_module.no_sync() if hasattr(loss_module, "no_sync") and not last else None
        with sync or contextlib.nullcontext():
            with autocast(device, precision):
                output = loss_module(batch)
            loss = output.loss * (scale / max(total_tokens, 1))
            (scaler.scale(loss) if scaler is not None else loss).backward()
        nll += float(output.nll)
    return nll


@torch.inference_mode()
def validation_loss(
    model: Model, data: TrainingCorpus, max_tokens: int, device: torch.device, precision: str
) -> tuple[float, float]:
    """Per-token negative log-likelihood and accuracy of ``model`` on the whole of ``data``
    (teacher forcing, no label smoothing)."""
    model.eval()
    nll, correct, tokens = 0.0, 0.0, 0
    with autocast(device, precision):
        for indices in data.batch_order(max_tokens, None):
            batch = data.batch(indices).to(device)
            output, count = teacher_forced_loss(model, batch, 0.0)
            nll += float(output.nll)
            correct += float(output.correct)
            tokens += count
    return nll / max(tokens, 1), correct / max(tokens, 1)
