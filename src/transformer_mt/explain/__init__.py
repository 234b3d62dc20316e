"""Look inside a trained model: every concept of the notes computed from the real model.

One module per concept, each returning a dataclass with the numbers behind its figure (and a
JSON-safe ``to_dict()``):

- :mod:`~transformer_mt.explain.masks_view`: the three attention masks of a real padded batch;
- :mod:`~transformer_mt.explain.shift`: the teacher-forcing shift and the model's probabilities;
- :mod:`~transformer_mt.explain.attention`: every layer's and head's attention, and the alignment;
- :mod:`~transformer_mt.explain.trace`: greedy and beam search step by step;
- :mod:`~transformer_mt.explain.exposure`: teacher forcing versus free running (exposure bias);
- :mod:`~transformer_mt.explain.dimensions`: E, h, d = E/h, Q/K/V shapes and parameter counts.

:mod:`~transformer_mt.explain.figures` and :mod:`~transformer_mt.explain.trace_figures` draw
them with matplotlib (with a CJK font from :mod:`~transformer_mt.explain.fonts`);
:mod:`~transformer_mt.explain.report` writes the PNGs and one self-contained HTML report;
:mod:`~transformer_mt.explain.explanation` computes every section for ``transformer-mt explain``.
"""

from transformer_mt.explain.attention import AttentionMaps, attention_maps
from transformer_mt.explain.dimensions import Dimensions, model_dimensions
from transformer_mt.explain.explanation import Explanation, explain
from transformer_mt.explain.exposure import ExposureBias, exposure_bias
from transformer_mt.explain.masks_view import BatchMasks, batch_masks
from transformer_mt.explain.shift import ShiftTable, shift_table
from transformer_mt.explain.trace import BeamTrace, DecodingTrace, beam_trace, greedy_trace

__all__ = [
    "AttentionMaps",
    "BatchMasks",
    "BeamTrace",
    "DecodingTrace",
    "Dimensions",
    "Explanation",
    "ExposureBias",
    "ShiftTable",
    "attention_maps",
    "batch_masks",
    "beam_trace",
    "explain",
    "exposure_bias",
    "greedy_trace",
    "model_dimensions",
    "shift_table",
]
