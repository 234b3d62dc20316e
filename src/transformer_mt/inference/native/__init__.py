"""A compiled decoder step for int8 models: one C++ call per step instead of dozens of ops.

:mod:`.build` compiles ``decoder_step.cpp`` once per machine (cached, chosen at run time: where
no compiler is found the Python step is used), :mod:`.step` prepares a model's weights for it.
"""
