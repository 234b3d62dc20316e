"""The LSTM baseline: cached == uncached, padding and batching never leak, the searches and the
factory treat it like the Transformer, and its configuration is validated."""

from __future__ import annotations

import pytest
import torch

from transformer_mt.config import config_from_dict as experiment_from_dict
from transformer_mt.decoding.beam import BeamSearch
from transformer_mt.decoding.search import GreedySearch
from transformer_mt.errors import ConfigError
from transformer_mt.model import LSTMConfig, LSTMSeq2Seq, Transformer
from transformer_mt.model.factory import build_model, config_from_dict, config_to_dict

PAD, BOS, EOS = 0, 2, 3  # the ids of the shared fixtures (tests/conftest.py)
TINY_VOCAB = 24


def tiny_lstm(seed: int = 0, **overrides: object) -> LSTMSeq2Seq:
    torch.manual_seed(seed)
    fields: dict[str, object] = {
        "src_vocab_size": TINY_VOCAB,
        "tgt_vocab_size": TINY_VOCAB,
        "d_model": 16,
        "num_encoder_layers": 2,
        "num_decoder_layers": 2,
        "dropout": 0.0,
        "max_positions": 64,
    }
    fields.update(overrides)
    return LSTMSeq2Seq(LSTMConfig(**fields)).eval()  # type: ignore[arg-type]  # fields vary


TARGETS = torch.tensor([[BOS, 6, 9, 4, 12], [BOS, 7, 5, PAD, PAD], [BOS, 15, 8, 11, PAD]])


@pytest.mark.parametrize("attention", ["general", "dot"])
def test_decode_step_equals_decode_at_every_position(
    src_batch: torch.Tensor, attention: str
) -> None:
    model = tiny_lstm(attention=attention)
    memory = model.encode(src_batch)  # (3, 6, 16)
    full = model.project(model.decode(TARGETS, memory, src_batch))  # (3, 5, V)
    cache = model.start_cache(memory, src_batch)
    for position in range(TARGETS.shape[1]):
        logits, cache = model.decode_step(TARGETS[:, position], cache)  # (3, V)
        torch.testing.assert_close(logits, full[:, position], rtol=1e-5, atol=1e-5)
    assert cache.length == TARGETS.shape[1]


def test_source_padding_changes_no_real_position(src_batch: torch.Tensor) -> None:
    model = tiny_lstm()
    wider = torch.cat([src_batch, torch.full((3, 4), PAD)], dim=1)  # four more padding columns
    memory, wider_memory = model.encode(src_batch), model.encode(wider)
    torch.testing.assert_close(wider_memory[:, : src_batch.shape[1]], memory)
    assert wider_memory[:, src_batch.shape[1] :].abs().max() == 0
    hidden = model.decode(TARGETS, memory, src_batch)
    torch.testing.assert_close(model.decode(TARGETS, wider_memory, wider), hidden)


def test_a_batch_equals_its_sentences_one_at_a_time(src_batch: torch.Tensor) -> None:
    model = tiny_lstm(seed=3)
    logits = model(src_batch, TARGETS)  # (3, 5, V)
    for row in range(3):
        src = src_batch[row : row + 1, : int((src_batch[row] != PAD).sum())]  # no padding
        tgt = TARGETS[row : row + 1, : int((TARGETS[row] != PAD).sum())]
        single = model(src, tgt)  # (1, T_row, V)
        torch.testing.assert_close(single[0], logits[row, : tgt.shape[1]], rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_greedy_equals_beam_of_one_and_scores_are_teacher_forced(
    src_batch: torch.Tensor,
) -> None:
    model = tiny_lstm(seed=5)
    limits = torch.tensor([7, 7, 7])
    greedy = GreedySearch().search(model, src_batch, limits)
    beam = BeamSearch(beam_size=1, length_penalty=0.0).search(model, src_batch, limits)
    for row, (g, b) in enumerate(zip(greedy, beam, strict=True)):
        assert g[0].tokens == b[0].tokens
        assert g[0].log_prob == pytest.approx(b[0].log_prob, abs=1e-4)
        # The search's log-probability is the teacher-forced one of its own output.
        tokens = torch.tensor([[BOS, *g[0].tokens[:-1]]])
        log_probs = model(src_batch[row : row + 1], tokens).log_softmax(-1)[0]  # (T, V)
        forced = log_probs.gather(1, torch.tensor(g[0].tokens)[:, None]).sum()
        assert float(forced) == pytest.approx(g[0].log_prob, abs=1e-4)


@torch.no_grad()
def test_beam_search_reorders_the_lstm_cache(src_batch: torch.Tensor) -> None:
    model = tiny_lstm(seed=7)
    found = BeamSearch(beam_size=3, n_best=3).search(model, src_batch, torch.tensor([6, 6, 6]))
    for row, hypotheses in enumerate(found):
        assert len(hypotheses) == 3
        for hypothesis in hypotheses:  # each beam's score survived the cache reordering
            tokens = list(hypothesis.tokens)
            decoder_in = torch.tensor([[BOS, *tokens[:-1]]])
            log_probs = model(src_batch[row : row + 1], decoder_in).log_softmax(-1)[0]
            forced = log_probs.gather(1, torch.tensor(tokens)[:, None]).sum()
            assert float(forced) == pytest.approx(hypothesis.log_prob, abs=1e-4)


def test_the_output_projection_is_tied_and_padding_embeds_to_zero() -> None:
    model = tiny_lstm()
    assert model.output_projection.weight is model.target_embedding.weight
    assert model.source_embedding is model.target_embedding
    assert model.target_embedding.weight[PAD].abs().max() == 0
    separate = tiny_lstm(share_embeddings=False, tie_output=False, src_vocab_size=30)
    assert separate.source_embedding.weight.shape == (30, 16)
    assert separate.output_projection.weight is not separate.target_embedding.weight


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"d_model": 15}, "d_model must be even"),
        ({"attention": "additive"}, "attention must be one of"),
        ({"num_decoder_layers": 0}, "num_decoder_layers must be at least 1"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"eos_id": BOS}, "must be distinct"),
    ],
)
def test_invalid_lstm_configs_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LSTMConfig(**{"src_vocab_size": TINY_VOCAB, "tgt_vocab_size": TINY_VOCAB, **overrides})  # type: ignore[arg-type]


def test_the_factory_round_trips_the_kind(make_config) -> None:  # type: ignore[no-untyped-def]
    lstm = LSTMConfig(TINY_VOCAB, TINY_VOCAB, d_model=8, eos_id=EOS)
    assert config_to_dict(lstm)["kind"] == "lstm"
    assert config_from_dict(config_to_dict(lstm)) == lstm
    assert isinstance(build_model(lstm), LSTMSeq2Seq)
    transformer = make_config()
    assert config_from_dict(config_to_dict(transformer)) == transformer
    assert config_from_dict(transformer.to_dict()) == transformer  # model.json before kinds
    assert isinstance(build_model(transformer), Transformer)
    with pytest.raises(ValueError, match="unknown model kind 'gru'"):
        config_from_dict({**lstm.to_dict(), "kind": "gru"})


def test_the_experiment_config_selects_and_validates_the_kind() -> None:
    raw = {
        "data": {"dataset": None, "train": "t.tsv", "valid": "v.tsv"},
        "training": {"max_steps": 1},
    }
    config = experiment_from_dict({**raw, "model": {"kind": "lstm", "d_model": 32}})
    assert (config.model.kind, config.model.attention) == ("lstm", "general")
    with pytest.raises(ConfigError, match=r"model\.kind must be one of"):
        experiment_from_dict({**raw, "model": {"kind": "gru"}})
    with pytest.raises(ConfigError, match="d_model must be even"):
        experiment_from_dict({**raw, "model": {"kind": "lstm", "d_model": 31, "num_heads": 1}})
