"""Transformer against the LSTM baseline: the study behind ``benchmarks/transformer_vs_lstm.py``.

- :mod:`~transformer_mt.comparison.matching`: an LSTM with the Transformer's parameter count;
- :mod:`~transformer_mt.comparison.harness`: train either model with the project's ``Trainer``
  for a number of updates or a wall-clock budget;
- :mod:`~transformer_mt.comparison.long_range`: accuracy against length on synthetic tasks;
- :mod:`~transformer_mt.comparison.throughput`: training speed against sequence length;
- :mod:`~transformer_mt.comparison.translation`: BLEU/chrF against time on English-Chinese;
- :mod:`~transformer_mt.comparison.report`: the Markdown report and its figures.
"""
