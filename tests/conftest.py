"""Shared tiny fixtures: a 2-layer, 2-head, D=16 Transformer and a padded source batch.

Token ids follow the default config: 0 <pad>, 1 <unk>, 2 <s>, 3 </s>, words from 4.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from hypothesis import settings

from transformer_mt.model import Transformer, TransformerConfig

PAD, BOS, EOS = 0, 2, 3
TINY_VOCAB = 24

# Tiny tensors gain nothing from intra-op threads, and on a busy machine OpenMP's waiting makes
# every small op many times slower (the model and decoding tests: 51 s with 2 threads, 9 s with
# one). One thread also makes float reductions, hence the trained fixtures, reproducible.
torch.set_num_threads(1)

# Property-based tests draw the same examples on every run (no flaky CI), keep no example
# database in the working tree, and are not timed (a busy 2-core machine is slow).
settings.register_profile("deterministic", derandomize=True, database=None, deadline=None)
settings.load_profile("deterministic")


@pytest.fixture(autouse=True)
def _denormals_back_on() -> Iterator[None]:
    """Training and loading a translator turn denormal floats off for the whole process
    (``runtime.configure_cpu``); later tests must not inherit that (hypothesis refuses to
    draw floats then, and tiny values round to zero)."""
    yield
    torch.set_flush_denormal(False)


def tiny_config(**overrides: object) -> TransformerConfig:
    """A Transformer small enough for exact CPU checks; keyword arguments override fields."""
    fields: dict[str, object] = {
        "src_vocab_size": TINY_VOCAB,
        "tgt_vocab_size": TINY_VOCAB,
        "d_model": 16,
        "num_heads": 2,
        "num_encoder_layers": 2,
        "num_decoder_layers": 2,
        "d_ff": 32,
        "dropout": 0.0,
        "max_positions": 64,
    }
    fields.update(overrides)
    return TransformerConfig(**fields)  # type: ignore[arg-type]  # test helper, fields vary


def tiny_model(seed: int = 0, **overrides: object) -> Transformer:
    """A randomly initialised tiny model in eval mode, reproducible for a given seed."""
    torch.manual_seed(seed)
    return Transformer(tiny_config(**overrides)).eval()


@pytest.fixture(scope="session")
def make_config() -> Callable[..., TransformerConfig]:
    """Factory for tiny configs: ``make_config(norm_position="pre")``."""
    return tiny_config


@pytest.fixture(scope="session")
def make_model() -> Callable[..., Transformer]:
    """Factory for tiny eval-mode models: ``make_model(seed=1, activation="gelu")``."""
    return tiny_model


@pytest.fixture
def model() -> Transformer:
    """The default tiny model (seed 0)."""
    return tiny_model()


@pytest.fixture
def src_batch() -> torch.Tensor:
    """Three sources of lengths 5, 3 and 6 (each ends with </s>), right-padded. ``(3, 6)``."""
    return torch.tensor(
        [
            [5, 9, 14, 7, EOS, PAD],
            [11, 6, EOS, PAD, PAD, PAD],
            [8, 4, 19, 13, 22, EOS],
        ]
    )
