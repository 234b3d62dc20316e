"""Export trained runs to other inference engines (optional extra ``transformer-mt[export]``).

:mod:`.hf` writes a Hugging Face Transformers directory (MarianMT for post-norm models, Pegasus
for pre-norm ones) with its tokenizer; :mod:`.ct2` builds a CTranslate2 model through its
``TransformerSpec``. Neither library is imported until an export runs. Both write through
:func:`.target.staged_directory`, which refuses the run directory and (without ``overwrite``) a
non-empty target, and moves the export into place only once it is complete.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from transformer_mt.errors import UserError

if TYPE_CHECKING:
    from transformer_mt.artifacts.rundir import RunDir
    from transformer_mt.model.transformer import Transformer

EXTRA_HINT = "pip install transformer-mt[export]"


def require(module: str) -> ModuleType:
    """Import an optional dependency of the export extra, or fail with a one-line hint."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"exporting needs the {module!r} package: {EXTRA_HINT}") from None


def load_transformer(run: RunDir) -> Transformer:
    """The run's best weights in eval mode; only Transformer runs export (not the LSTM)."""
    from transformer_mt.artifacts.weights import load_model
    from transformer_mt.model.transformer import Transformer

    config = run.read_model_config()
    if config.kind != "transformer":
        raise UserError(f"{run.path}: a {config.kind} run; only Transformer runs export")
    model = load_model(config, run.require_weights())
    assert isinstance(model, Transformer)
    return model.eval()
