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

from transformer_mt.errors import UserError

EXTRA_HINT = "pip install transformer-mt[export]"


def require(module: str) -> ModuleType:
    """Import an optional dependency of the export extra, or fail with a one-line hint."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"exporting needs the {module!r} package: {EXTRA_HINT}") from None
