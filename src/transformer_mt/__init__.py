"""transformer-mt: Transformer encoder-decoder machine translation, from scratch."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Translator", "__version__"]


def __getattr__(name: str) -> object:
    # Lazy so that `import transformer_mt` stays cheap (the CLI imports torch only when needed).
    if name == "Translator":
        from transformer_mt.decoding.translator import Translator

        return Translator
    raise AttributeError(f"module 'transformer_mt' has no attribute {name!r}")
