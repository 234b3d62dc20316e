"""``POST /explain``: the explain package's attention maps and decoding trace for one sentence.

The figures themselves are drawn by the page (``static/app.js``); this module only runs
:func:`transformer_mt.explain.attention.attention_maps` and the greedy or beam trace on the model's
worker thread and returns their ``to_dict()`` forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transformer_mt.decoding.translator import Translator
from transformer_mt.explain.attention import attention_maps
from transformer_mt.explain.inputs import require_transformer
from transformer_mt.explain.trace import beam_trace, greedy_trace
from transformer_mt.serve.batcher import ModelWorker
from transformer_mt.serve.schemas import ExplainRequest


@dataclass(frozen=True)
class Explainer:
    """Runs explanations on the model's worker thread, between the translation batches."""

    translator: Translator
    worker: ModelWorker

    async def explain(self, request: ExplainRequest) -> dict[str, Any]:
        require_transformer(self.translator)  # an LSTM run translates but has no maps to show
        return await self.worker.run(explain_sentence, self.translator, request)


def explain_sentence(translator: Translator, request: ExplainRequest) -> dict[str, Any]:
    """``{"attention": AttentionMaps.to_dict(), "trace": trace.to_dict()}`` for one sentence.

    The attention maps are those of ``request.target`` (the translation the page shows) when
    given, else of the model's greedy translation; the trace is of the requested search.
    """
    if request.search == "beam":
        trace = beam_trace(translator, request.sentence, beam_size=request.beam_size)
    else:
        trace = greedy_trace(translator, request.sentence, top_k=request.top_k)
    maps = attention_maps(translator, request.sentence, request.target)
    return {"attention": maps.to_dict(), "trace": trace.to_dict()}
