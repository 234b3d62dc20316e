"""Import models trained elsewhere into run directories (``transformer-mt import-hf``).

:mod:`.marian` reads a Hugging Face ``MarianMTModel`` folder (OPUS-MT's layout); :mod:`.run`
writes the run directory. The weight names and the residual permutation are export's
(:mod:`transformer_mt.export.hf_weights`), read the other way.
"""
