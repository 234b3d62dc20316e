"""End to end: a tiny model trained on the copy task (output = input) with the fused loss learns
it, and greedy and beam search reproduce unseen sources."""

from __future__ import annotations

import torch

from transformer_mt.data.batching import Batch, pad_sequences
from transformer_mt.decoding import BeamSearch, GreedySearch
from transformer_mt.model import Transformer
from transformer_mt.training.loss import projection_cross_entropy

PAD, BOS, EOS = 0, 2, 3


def held_out() -> tuple[list[list[int]], torch.Tensor]:
    """40 random sentences of 1-6 words (ids 4-23), a different stream from training."""
    generator = torch.Generator().manual_seed(123)
    lengths = torch.randint(1, 7, (40,), generator=generator).tolist()
    sources = [torch.randint(4, 24, (n,), generator=generator).tolist() for n in lengths]
    return sources, pad_sequences([[*s, EOS] for s in sources], PAD)


def test_teacher_forced_accuracy_is_near_perfect(copy_model: Transformer) -> None:
    sources, _ = held_out()
    batch = Batch.from_token_ids(sources, sources, pad_id=PAD, bos_id=BOS, eos_id=EOS)
    with torch.no_grad():
        hidden = copy_model.decode(
            batch.tgt_in_ids, copy_model.encode(batch.src_ids), batch.src_ids
        )
        real = batch.tgt_out_ids != PAD
        output = projection_cross_entropy(
            hidden[real], copy_model.output_projection.weight, batch.tgt_out_ids[real]
        )
    tokens = batch.num_target_tokens
    assert output.correct.item() / tokens > 0.95
    # A uniform guess would cost log(24) = 3.2 nats per token.
    assert output.nll.item() / tokens < 0.3


def test_search_copies_unseen_sources(copy_model: Transformer) -> None:
    sources, src = held_out()
    limits = torch.full((len(sources),), 10)
    expected = [(*s, EOS) for s in sources]
    for strategy in (GreedySearch(), BeamSearch(beam_size=4)):
        results = strategy.search(copy_model, src, limits)
        copied = sum(hyps[0].tokens == want for hyps, want in zip(results, expected, strict=True))
        assert copied >= 0.85 * len(sources), (strategy, copied)
