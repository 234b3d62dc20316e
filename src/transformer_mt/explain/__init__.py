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

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # what the lazy names are, for type checkers
    from transformer_mt.explain.attention import (
        AttentionMaps as AttentionMaps,
    )
    from transformer_mt.explain.attention import (
        attention_maps as attention_maps,
    )
    from transformer_mt.explain.dimensions import (
        Dimensions as Dimensions,
    )
    from transformer_mt.explain.dimensions import (
        model_dimensions as model_dimensions,
    )
    from transformer_mt.explain.explanation import (
        Explanation as Explanation,
    )
    from transformer_mt.explain.explanation import (
        explain as explain,
    )
    from transformer_mt.explain.exposure import (
        ExposureBias as ExposureBias,
    )
    from transformer_mt.explain.exposure import (
        exposure_bias as exposure_bias,
    )
    from transformer_mt.explain.masks_view import (
        BatchMasks as BatchMasks,
    )
    from transformer_mt.explain.masks_view import (
        batch_masks as batch_masks,
    )
    from transformer_mt.explain.shift import (
        ShiftTable as ShiftTable,
    )
    from transformer_mt.explain.shift import (
        shift_table as shift_table,
    )
    from transformer_mt.explain.trace import (
        BeamTrace as BeamTrace,
    )
    from transformer_mt.explain.trace import (
        DecodingTrace as DecodingTrace,
    )
    from transformer_mt.explain.trace import (
        beam_trace as beam_trace,
    )
    from transformer_mt.explain.trace import (
        greedy_trace as greedy_trace,
    )
