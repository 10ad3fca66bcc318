import numpy as np
import pytest

from biakit.errors import ParameterError
from biakit.io import ImageMeta


def test_spacing_is_checked_once_with_the_shared_rule():
    assert ImageMeta("ZYX", np.array([2, 0.5, 0.5])).spacing == (2.0, 0.5, 0.5)
    assert ImageMeta("YX").spacing == (1.0, 1.0)
    with pytest.raises(ParameterError, match=r"spacing 0.5 must have one entry per axis: 3"):
        ImageMeta("ZYX", 0.5)
    with pytest.raises(ParameterError, match=r"one entry per axis: 2 for axes 'YX'"):
        ImageMeta("YX", (1.0, 1.0, 1.0))
    for bad in ((0.0, 1.0), (-1.0, 1.0), (float("inf"), 1.0), (float("nan"), 1.0)):
        with pytest.raises(ParameterError, match="spacing must be positive finite numbers"):
            ImageMeta("YX", bad)
