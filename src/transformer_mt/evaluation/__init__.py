"""Evaluation: sacreBLEU BLEU and chrF."""
