"""Weight initialisation of the Transformer: ``normal`` or ``xavier``; ``auto`` (the default)
picks ``normal`` for post-norm and ``xavier`` for pre-norm models, each one's faster choice.

- ``normal``: every linear and embedding weight from N(0, ``init_std``), biases zero (BERT,
  BART and Marian; 0.02 by default). Each sub-layer starts close to the identity path, which
  post-norm stacks need.
- ``xavier``: Xavier-uniform linear weights and N(0, 1/sqrt(d_model)) embeddings (fairseq and
  the Annotated Transformer): with the sqrt(d_model) scale, token vectors start at unit size.

Which scheme trains faster for which norm position was measured with
``benchmarks/init_curves.py``; the curves are in ``docs/training.md``.

Token embeddings are the embeddings with a padding row, which stays zero; learned position
tables keep their own N(0, 1/sqrt(d_model)); LayerNorm keeps PyTorch's ones and zeros.
"""

from __future__ import annotations

from torch import nn


def resolve(scheme: str, norm_position: str) -> str:
    """``auto`` -> ``normal`` for post-norm, ``xavier`` for pre-norm; other schemes unchanged."""
    if scheme != "auto":
        return scheme
    return "normal" if norm_position == "post" else "xavier"


def initialize(model: nn.Module, scheme: str, d_model: int, std: float = 0.02) -> None:
    """Re-initialise the linear and token-embedding weights of ``model`` in place."""
    if scheme not in ("normal", "xavier"):
        raise ValueError(f"init must be normal or xavier here, got {scheme!r}")
    for module in model.modules():
        if isinstance(module, nn.Linear):
            if scheme == "normal":
                nn.init.normal_(module.weight, std=std)
            else:
                nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding) and module.padding_idx is not None:  # tokens
            nn.init.normal_(module.weight, std=std if scheme == "normal" else d_model**-0.5)
            nn.init.zeros_(module.weight[module.padding_idx])
