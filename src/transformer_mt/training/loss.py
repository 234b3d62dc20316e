"""Label-smoothed cross-entropy fused with the output projection, computed in row chunks.

Shape letters: N target tokens (padding removed), D model width, V target vocabulary, C chunk rows.

The textbook path materialises logits, log-probabilities and their gradients as several fp32
``(N, V)`` tensors (4096 x 8000 floats = 131 MB each). On a CPU those passes, not the matmuls,
dominate a bf16 training step. Here each chunk of ``C`` rows computes its logits, the loss and the
gradient of the loss with respect to the logits in one go, and immediately turns that into the
gradients for the hidden states and the projection matrix. Nothing vocabulary-sized outlives a
chunk. The result equals ``F.cross_entropy(hidden @ weight.T, targets, label_smoothing=eps,
reduction="sum")`` (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

_CHUNK_ELEMENTS = 1 << 22  # logits per chunk: 16 MB in fp32


@dataclass(frozen=True)
class LossOutput:
    loss: torch.Tensor  # scalar, label-smoothed, summed over tokens (differentiable)
    nll: torch.Tensor  # scalar, plain negative log-likelihood summed over tokens (no grad)
    correct: torch.Tensor  # scalar, number of tokens whose argmax equals the target (no grad)


def _compute_dtype(hidden: torch.Tensor) -> torch.dtype:
    device = hidden.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return hidden.dtype


class _ProjectionCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]  # autograd.Function's signature is generic
        ctx: torch.autograd.function.FunctionCtx,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        targets: torch.Tensor,
        smoothing: float,
        compute_dtype: torch.dtype,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        num_rows, vocab = hidden.shape[0], weight.shape[0]
        need_grad = ctx.needs_input_grad[0] or ctx.needs_input_grad[1]  # type: ignore[attr-defined]
        w = weight.to(compute_dtype)  # (V, D)
        grad_hidden = torch.empty_like(hidden) if need_grad else None  # (N, D)
        accumulate = torch.promote_types(weight.dtype, torch.float32)
        grad_weight = torch.zeros_like(weight, dtype=accumulate) if need_grad else None  # (V, D)
        totals = torch.zeros(3, dtype=torch.float64)  # loss, nll, correct
        # Softmax in at least fp32 (bf16/fp16 logits are upcast), never below the inputs' dtype.
        softmax_dtype = torch.promote_types(compute_dtype, torch.float32)
        rows = min(max(1, _CHUNK_ELEMENTS // vocab), max(num_rows, 1))
        # One pair of (C, V) buffers serves every chunk: fresh vocabulary-sized allocations per
        # chunk cost more in page faults than the arithmetic done on them.
        scores = torch.empty(rows, vocab, dtype=softmax_dtype, device=hidden.device)
        low = (
            scores
            if compute_dtype == softmax_dtype
            else torch.empty_like(scores, dtype=compute_dtype)
        )
        for start in range(0, num_rows, rows):
            stop = min(start + rows, num_rows)
            h = hidden[start:stop].to(compute_dtype)  # (C, D)
            t = targets[start:stop]  # (C,)
            probs = _chunk_probabilities(
                h, w, t, smoothing, scores[: stop - start], low[: stop - start], totals
            )
            if grad_hidden is None or grad_weight is None:
                continue
            # d loss / d logits = softmax - (1 - eps) * onehot(target) - eps / V
            grad = probs.sub_(smoothing / vocab)  # (C, V), in the scores buffer
            hit = torch.full(
                (stop - start, 1), smoothing - 1.0, dtype=grad.dtype, device=grad.device
            )
            grad.scatter_add_(1, t[:, None], hit)
            g = low[: stop - start].copy_(grad) if low is not scores else grad  # (C, V)
            grad_hidden[start:stop] = (g @ w).to(hidden.dtype)  # (C, D)
            grad_weight.add_((g.T @ h).to(accumulate))  # (V, D)
        ctx.save_for_backward(grad_hidden, grad_weight)  # type: ignore[attr-defined]
        ctx.weight_dtype = weight.dtype  # type: ignore[attr-defined]
        loss = totals[0].to(softmax_dtype)
        nll_total, correct = totals[1].to(softmax_dtype), totals[2].to(softmax_dtype)
        ctx.mark_non_differentiable(nll_total, correct)  # type: ignore[attr-defined]
        return loss, nll_total, correct

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        grad_loss: torch.Tensor,
        _grad_nll: torch.Tensor,
        _grad_correct: torch.Tensor,
    ) -> tuple[torch.Tensor | None, ...]:
        grad_hidden, grad_weight = ctx.saved_tensors  # type: ignore[attr-defined]
        scale = grad_loss.to(grad_hidden.dtype)
        return (
            grad_hidden * scale,
            (grad_weight * grad_loss).to(ctx.weight_dtype),  # type: ignore[attr-defined]
            None,
            None,
            None,
        )


def _chunk_probabilities(
    h: torch.Tensor,
    w: torch.Tensor,
    targets: torch.Tensor,
    smoothing: float,
    scores: torch.Tensor,
    low: torch.Tensor,
    totals: torch.Tensor,
) -> torch.Tensor:
    """Softmax probabilities of one chunk, computed in place in ``scores`` ``(C, V)``.

    Adds the chunk's loss, nll and correct count to ``totals``. ``low`` is a buffer of the
    matmul's dtype (it may be ``scores`` itself). Every pass over the ``(C, V)`` buffer is in
    place: ``logsumexp`` or ``softmax`` would allocate a new vocabulary-sized tensor each.
    """
    torch.mm(h, w.T, out=low)  # (C, V) logits in the compute dtype
    if low is not scores:
        scores.copy_(low)  # (C, V) upcast for the softmax
    target_logits = scores.gather(1, targets[:, None])[:, 0]  # (C,)
    max_logit = scores.amax(dim=-1)  # (C,)
    mean_logit = scores.mean(dim=-1)  # (C,)
    sum_exp = scores.sub_(max_logit[:, None]).exp_().sum(dim=-1)  # (C,)
    log_norm = max_logit + sum_exp.log()  # (C,) logsumexp of the logits
    nll = log_norm - target_logits  # (C,)
    smooth = log_norm - mean_logit  # (C,) mean over V of -log p
    totals[0] += ((1 - smoothing) * nll + smoothing * smooth).sum().double()
    totals[1] += nll.sum().double()
    totals[2] += (target_logits >= max_logit).sum().double()  # argmax hits (ties count)
    return scores.div_(sum_exp[:, None])  # (C, V) probabilities


def projection_cross_entropy(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, smoothing: float = 0.0
) -> LossOutput:
    """Summed label-smoothed cross-entropy of ``softmax(hidden @ weight.T)`` against ``targets``.

    hidden ``(N, D)`` (padding rows already removed), weight ``(V, D)``, targets ``(N,)`` long.
    Smoothing spreads ``smoothing`` of the target mass uniformly over all V classes, as
    ``torch.nn.functional.cross_entropy(..., label_smoothing=smoothing)`` does.
    """
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"label smoothing must be in [0, 1), got {smoothing}")
    loss, nll, correct = _ProjectionCrossEntropy.apply(
        hidden, weight, targets, smoothing, _compute_dtype(hidden)
    )
    return LossOutput(loss=loss, nll=nll, correct=correct)


def logits_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, smoothing: float = 0.0
) -> LossOutput:
    """The textbook path on logits ``(N, V)`` already computed, for an output layer with a
    bias (an imported MarianMT's ``final_logits_bias``), which the fused path has no place for.
    """
    logits = logits.float()  # (N, V)
    loss = torch.nn.functional.cross_entropy(
        logits, targets, label_smoothing=smoothing, reduction="sum"
    )
    with torch.no_grad():
        nll = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
        correct = (logits.argmax(dim=-1) == targets).sum()
    return LossOutput(loss=loss, nll=nll, correct=correct)
