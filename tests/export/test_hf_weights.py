"""Golden test: HF's MarianMT (post-norm) and Pegasus (pre-norm) loaded with our weights compute
our logits. The tiny random models cover activations, learned positions and separate vocabularies.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from transformer_mt.errors import ConfigError
from transformer_mt.export.hf import check_exportable, hf_model
from transformer_mt.export.hf_weights import hf_state_dict, load_hf_state_dict, residual_permutation
from transformer_mt.model import Transformer, TransformerConfig
from transformer_mt.model.embedding import sinusoidal_table

pytest.importorskip("transformers")

PAD, BOS = 0, 2
TARGETS = torch.tensor([[BOS, 7, 12, 5, 9], [BOS, 10, PAD, PAD, PAD], [BOS, 4, 6, 8, 15]])


def reference_logits(reference: torch.nn.Module, src: torch.Tensor) -> torch.Tensor:
    return reference(
        input_ids=src,
        attention_mask=(src != PAD).long(),
        decoder_input_ids=TARGETS,
        decoder_attention_mask=(TARGETS != PAD).long(),
    ).logits


@pytest.mark.parametrize(
    "overrides",
    [
        {"norm_position": "post", "activation": "relu"},
        {"norm_position": "post", "activation": "gelu"},
        {"norm_position": "pre", "activation": "relu"},
        {"norm_position": "pre", "activation": "gelu"},
        {"norm_position": "pre", "positional_encoding": "learned"},
        {"norm_position": "post", "share_embeddings": False, "tie_output": False},
    ],
    ids=["post-relu", "post-gelu", "pre-relu", "pre-gelu", "pre-learned", "post-separate"],
)
def test_logits_equal_hf_reference(
    make_model: Callable[..., Transformer], src_batch: torch.Tensor, overrides: dict[str, object]
) -> None:
    model = make_model(**overrides)
    reference = hf_model(model)
    expected = {"post": "MarianMTModel", "pre": "PegasusForConditionalGeneration"}
    assert type(reference).__name__ == expected[model.config.norm_position]
    with torch.no_grad():
        ours = model(src_batch, TARGETS)
        theirs = reference_logits(reference, src_batch)
    real = TARGETS != PAD
    torch.testing.assert_close(ours[real], theirs[real], rtol=1e-4, atol=1e-4)
    assert torch.equal(ours[real].argmax(-1), theirs[real].argmax(-1))


def test_permutation_maps_our_sinusoids_to_hf_halves() -> None:
    """HF's table (numpy formula, sines then cosines) is ours with the dimensions permuted."""
    transformers = pytest.importorskip("transformers")
    from transformers.models.marian.modeling_marian import MarianSinusoidalPositionalEmbedding

    hf_table = MarianSinusoidalPositionalEmbedding(50, 16).create_weight()
    ours = sinusoidal_table(50, 16)[:, residual_permutation(16)]
    torch.testing.assert_close(ours, hf_table, rtol=0, atol=1e-5)
    assert transformers is not None


def test_pre_norm_with_separate_embeddings_is_refused(
    make_config: Callable[..., TransformerConfig],
) -> None:
    config = make_config(norm_position="pre", share_embeddings=False)
    with pytest.raises(ConfigError, match=r"model\.norm_position"):
        check_exportable(config)


@pytest.mark.parametrize(
    "overrides",
    [
        {"norm_position": "post", "activation": "swish", "output_bias": True},
        {"norm_position": "pre", "positional_encoding": "learned"},
        {"share_embeddings": False, "tie_output": False, "scale_embedding": False},
        {"num_encoder_layers": 1, "num_decoder_layers": 3, "tie_output": False},
    ],
    ids=["swish-bias", "pre-learned", "separate-unscaled", "depths"],
)
def test_loading_inverts_the_export_mapping(
    make_model: Callable[..., Transformer], overrides: dict[str, object]
) -> None:
    """import-hf's direction: HF names -> our tensors, with the inverse permutation (exact)."""
    source = make_model(**overrides)
    with torch.no_grad():
        if source.output_projection.bias is not None:
            source.output_projection.bias.normal_()
    state = hf_state_dict(source)
    torch.manual_seed(123)
    target = Transformer(source.config)
    load_hf_state_dict(target, state, {})
    for (name, ours), theirs in zip(
        source.state_dict().items(), target.state_dict().values(), strict=True
    ):
        assert torch.equal(ours, theirs), name


def test_loading_names_a_missing_or_misshapen_tensor(
    make_model: Callable[..., Transformer],
) -> None:
    model = make_model()
    state = hf_state_dict(model)
    del state["model.decoder.layers.0.fc1.weight"]
    with pytest.raises(KeyError, match=r"fc1\.weight"):
        load_hf_state_dict(make_model(), state, {})
    state = hf_state_dict(model) | {"model.encoder.layers.0.fc2.bias": torch.zeros(3)}
    with pytest.raises(ValueError, match=r"fc2.bias has shape \(3,\)"):
        load_hf_state_dict(make_model(), state, {})
