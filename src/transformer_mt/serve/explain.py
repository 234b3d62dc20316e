"""``POST /explain``: the explain package's attention maps and decoding trace for one sentence.

The figures themselves are drawn by the page (``static/app.js``); this module only runs
:func:`transformer_mt.explain.attention.attention_maps` and the greedy or beam trace on the model's
worker thread and returns their ``to_dict()`` forms.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from transformer_mt.decoding.translator import Translator
from transformer_mt.serve.batcher import ModelWorker
from transformer_mt.serve.schemas import ExplainRequest


@dataclass(frozen=True)
class Explainer:
    translator: Translator
    worker: ModelWorker

    @classmethod
    def create(cls, translator: Translator, worker: ModelWorker) -> Explainer | None:
        """An explainer, or None where the explain package is not installed."""
        if importlib.util.find_spec("transformer_mt.explain") is None:
            return None
        return cls(translator, worker)

    async def explain(self, request: ExplainRequest) -> dict[str, Any]:
        return await self.worker.run(explain_sentence, self.translator, request)


def explain_sentence(translator: Translator, request: ExplainRequest) -> dict[str, Any]:
    """``{"attention": AttentionMaps.to_dict(), "trace": trace.to_dict()}`` for one sentence."""
    from transformer_mt.explain.attention import attention_maps
    from transformer_mt.explain.trace import beam_trace, greedy_trace

    if request.search == "beam":
        trace = beam_trace(translator, request.sentence, beam_size=request.beam_size)
    else:
        trace = greedy_trace(translator, request.sentence, top_k=request.top_k)
    return {
        "attention": attention_maps(translator, request.sentence).to_dict(),
        "trace": trace.to_dict(),
    }
