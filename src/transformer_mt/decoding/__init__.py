"""Autoregressive decoding: search strategies and the Translator facade."""

from transformer_mt.decoding.beam import BeamSearch
from transformer_mt.decoding.hypothesis import Hypothesis
from transformer_mt.decoding.search import GreedySearch, SamplingSearch, SearchStrategy

__all__ = ["BeamSearch", "GreedySearch", "Hypothesis", "SamplingSearch", "SearchStrategy"]
