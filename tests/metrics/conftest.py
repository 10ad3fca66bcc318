"""Shared fixtures of the metrics tests: seeded label-image pairs."""

import importlib.util
from pathlib import Path

import pytest


def _load_label_helpers():
    """Import the sibling helper module (pytest runs with --import-mode=importlib).

    ``_instance_labels.py`` stays a plain module: the instance-matching
    benchmark imports it too, to record the reference numbers.
    """
    path = Path(__file__).with_name("_instance_labels.py")
    spec = importlib.util.spec_from_file_location("_biakit_test_instance_labels", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_labels = _load_label_helpers()


@pytest.fixture
def coins_pair():
    """``coins_pair()``: labelled coins and an eroded, shifted prediction."""
    return _labels.coins_pair


@pytest.fixture
def random_label_pair():
    """``random_label_pair(seed, shape=(64, 64), n=25)``: ellipses and a perturbed copy."""
    return _labels.random_label_pair
