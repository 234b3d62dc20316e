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

from transformer_mt.lazy import lazy_exports

# Lazy, so that the command line can read SECTIONS without importing torch.
_PUBLIC = {
    "AttentionMaps": "transformer_mt.explain.attention",
    "attention_maps": "transformer_mt.explain.attention",
    "Dimensions": "transformer_mt.explain.dimensions",
    "model_dimensions": "transformer_mt.explain.dimensions",
    "Explanation": "transformer_mt.explain.explanation",
    "explain": "transformer_mt.explain.explanation",
    "ExposureBias": "transformer_mt.explain.exposure",
    "exposure_bias": "transformer_mt.explain.exposure",
    "BatchMasks": "transformer_mt.explain.masks_view",
    "batch_masks": "transformer_mt.explain.masks_view",
    "ShiftTable": "transformer_mt.explain.shift",
    "shift_table": "transformer_mt.explain.shift",
    "BeamTrace": "transformer_mt.explain.trace",
    "DecodingTrace": "transformer_mt.explain.trace",
    "beam_trace": "transformer_mt.explain.trace",
    "greedy_trace": "transformer_mt.explain.trace",
}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
