"""Training an output layer with a bias (an imported MarianMT's final_logits_bias): the loss is
the model's own logits' cross-entropy, bias included."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F  # noqa: N812 (the conventional alias)

from transformer_mt.data.batching import Batch
from transformer_mt.model import Transformer
from transformer_mt.training.step import teacher_forced_loss


def test_the_loss_includes_the_output_bias(make_model: Callable[..., Transformer]) -> None:
    model = make_model(output_bias=True)
    with torch.no_grad():
        model.output_projection.bias.normal_()
    batch = Batch.from_token_ids(
        [[5, 6, 7], [8, 9]], [[10, 11], [12, 13, 14]], pad_id=0, bos_id=2, eos_id=3
    )
    output, count = teacher_forced_loss(model, batch, label_smoothing=0.1)
    logits = model(batch.src_ids, batch.tgt_in_ids)  # (B, T, V), the bias included
    real = batch.tgt_out_ids != 0
    expected = F.cross_entropy(
        logits[real], batch.tgt_out_ids[real], label_smoothing=0.1, reduction="sum"
    )
    torch.testing.assert_close(output.loss, expected)
    assert count == int(real.sum())
    output.loss.backward()
    assert model.output_projection.bias.grad is not None  # trained like Marian's own
