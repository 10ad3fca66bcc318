"""Pair ground-truth and prediction files by name: moved to :mod:`biakit.io` (re-exported)."""

from biakit.io._pairing import PRED_SUFFIXES, file_key, is_side_output, pair_files

__all__ = ["PRED_SUFFIXES", "file_key", "is_side_output", "pair_files"]
