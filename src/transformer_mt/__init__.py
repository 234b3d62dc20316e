"""transformer-mt: Transformer encoder-decoder machine translation, from scratch.

The public API (imported lazily, so that ``import transformer_mt`` stays cheap):

- :class:`Translator`: load a trained run, translate, score (``transformer_mt.decoding``);
- :class:`DecodingOptions`: how to decode, one frozen and validated set of options;
- :class:`TransformerConfig`: the architecture of the notes' Transformer;
- :func:`load_config`: an experiment config from a YAML file or preset, with overrides;
- :func:`train`: train a model as a config describes, into its run directory (fine-tune one
  with ``training.init_from``);
- :func:`import_hf`: a Hugging Face MarianMT / OPUS-MT folder as a run directory.

>>> from transformer_mt import Translator, load_config, train     # doctest: +SKIP
>>> train(load_config("quickstart", ["run_dir=runs/mine"]))          # doctest: +SKIP
>>> Translator.load("runs/mine").translate(["Hello world"])           # doctest: +SKIP
['你好世界']
"""

from __future__ import annotations

from transformer_mt.lazy import lazy_exports

# typing.TYPE_CHECKING without importing typing (13 ms): type checkers read this name as True.
TYPE_CHECKING = False

__version__ = "0.1.0"

__all__ = [
    "DecodingOptions",
    "TransformerConfig",
    "Translator",
    "__version__",
    "import_hf",
    "load_config",
    "train",
]

# name -> the module that defines it
_PUBLIC = {
    "DecodingOptions": "transformer_mt.config.decoding",
    "Translator": "transformer_mt.decoding.translator",
    "TransformerConfig": "transformer_mt.model.config",
    "import_hf": "transformer_mt.importing.run",
    "load_config": "transformer_mt.config.loading",
    "train": "transformer_mt.commands.train",
}

if TYPE_CHECKING:
    from transformer_mt.commands.train import train
    from transformer_mt.config.decoding import DecodingOptions
    from transformer_mt.config.loading import load_config
    from transformer_mt.decoding.translator import Translator
    from transformer_mt.importing.run import import_hf
    from transformer_mt.model.config import TransformerConfig


__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
