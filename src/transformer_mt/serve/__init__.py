"""A REST API and a web page for translating and looking inside a trained model.

Needs the optional extra ``serve`` (FastAPI, uvicorn): ``pip install 'transformer-mt[serve]'``.
``transformer-mt serve RUN_DIR`` runs it; :func:`transformer_mt.serve.app.create_app` builds it.
"""

from __future__ import annotations

import importlib.util

from transformer_mt.errors import UserError

REQUIRED = ("fastapi", "uvicorn")


def require_serve_extra() -> None:
    """Raise a one-line :class:`UserError` when FastAPI or uvicorn is missing."""
    missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            f"serving needs {' and '.join(missing)}: pip install 'transformer-mt[serve]'"
        )
