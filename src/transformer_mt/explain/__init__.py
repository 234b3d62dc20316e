"""Look inside a trained model: every concept of the notes computed from the real model.

One module per concept, each returning a dataclass with the numbers behind its figure (and a
JSON-safe ``to_dict()``):

- :mod:`~transformer_mt.explain.masks_view`: the three attention masks of a real padded batch;
- :mod:`~transformer_mt.explain.shift`: the teacher-forcing shift and the model's probabilities;
- :mod:`~transformer_mt.explain.attention`: every layer's and head's attention, and the alignment;
- :mod:`~transformer_mt.explain.trace`: greedy and beam search step by step;
- :mod:`~transformer_mt.explain.exposure`: teacher forcing versus free running (exposure bias);
- :mod:`~transformer_mt.explain.dimensions`: E, h, d = E/h, Q/K/V shapes and parameter counts.

:mod:`~transformer_mt.explain.figures` draws them with matplotlib and
:mod:`~transformer_mt.explain.report` writes the PNGs and one self-contained HTML report.
"""
