import numpy as np
import pytest

from biakit.axes import default_axes, spatial_ndim, to_canonical, validate_axes


def test_validate_and_canonical_order():
    assert validate_axes("yxs", 3) == "YXC"
    a = np.zeros((4, 5, 2, 3))  # Z Y C X
    b, axes = to_canonical(a, "ZYCX")
    assert axes == "CZYX" and b.shape == (2, 4, 5, 3)
    same, axes2 = to_canonical(np.zeros((2, 3)), "YX")
    assert axes2 == "YX" and same.shape == (2, 3)


@pytest.mark.parametrize(
    ("axes", "ndim", "match"),
    [
        ("YX", 3, r"has 2 letters but the array has 3"),
        ("QYX", 3, r"unknown letter"),
        ("YYX", 3, r"repeats a letter"),
        ("ZY", 2, r"must contain both 'Y' and 'X'"),
    ],
)
def test_invalid_axes(axes, ndim, match):
    with pytest.raises(ValueError, match=match):
        validate_axes(axes, ndim)


def test_defaults_and_spatial_ndim():
    assert [default_axes(n) for n in (2, 3, 4, 5)] == ["YX", "ZYX", "CZYX", "TCZYX"]
    assert default_axes(3, rgb=True) == "YXC"
    with pytest.raises(ValueError, match=r"cannot guess axes of a 6-D"):
        default_axes(6)
    with pytest.raises(ValueError, match=r"RGB image has 3 dimensions"):
        default_axes(2, rgb=True)
    assert spatial_ndim("TCZYX") == 3
