import numpy as np
import pytest

from biakit.errors import DataError, ParameterError, UserError
from biakit.validation import (
    check_channel,
    check_channel_layout,
    check_finite,
    check_fraction,
    check_iou_thresholds,
    check_labels,
    check_ndim,
    check_positive,
    check_spacing,
)


def test_spacing_one_rule_for_scalars_and_sequences():
    assert check_spacing(None, 3) is None
    assert check_spacing(0.5, 3) == (0.5, 0.5, 0.5)
    assert check_spacing(2, 2) == (2.0, 2.0)
    assert check_spacing(np.float32(0.25), 2) == (0.25, 0.25)
    assert check_spacing(np.array(3.0), 2) == (3.0, 3.0)
    assert check_spacing([2, 0.5, 0.5], 3) == (2.0, 0.5, 0.5)
    assert check_spacing(np.array([1.0, 2.0]), 2) == (1.0, 2.0)
    out = check_spacing((1, 2), 2)
    assert all(type(v) is float for v in out)


@pytest.mark.parametrize(
    ("spacing", "match"),
    [
        ([1.0, 2.0], r"spacing has 2 value\(s\) \(1.0, 2.0\) but the image has 3 spatial axes"),
        ([[1.0, 1.0, 1.0]], "spacing has 1 value"),
        (np.ones((1, 3)), "spacing has 3 value"),
        (-1.0, r"spacing must be positive finite numbers, got -1.0 \(axis 0: -1.0\)"),
        (0, "must be positive finite"),
        ([1.0, float("nan"), 1.0], r"axis 1: nan"),
        ([1.0, 1.0, float("inf")], r"axis 2: inf"),
        ([1.0, "a", 1.0], r"axis 1: 'a'"),
        (True, "got bool True"),
        ("1.0", "must be a number or 3 numbers .* got str"),
        ({"z": 1}, "got dict"),
    ],
)
def test_spacing_errors(spacing, match):
    with pytest.raises(ParameterError, match=match):
        check_spacing(spacing, 3)


def test_spacing_error_names_the_parameter():
    with pytest.raises(ParameterError, match=r"^voxel_size must be positive"):
        check_spacing(-2, 2, name="voxel_size")


def test_finite():
    a = np.array([1.0, 2.0])
    assert check_finite(a) is a
    ints = np.zeros(3, np.uint8)
    assert check_finite(ints) is ints
    with pytest.raises(
        DataError, match=r"^a.tif: image has 2 NaN and 1 infinite value\(s\) out of 5"
    ):
        check_finite(np.array([np.nan, np.nan, np.inf, 0.0, 1.0]), source="a.tif")
    with pytest.raises(DataError, match=r"^raw has 0 NaN and 1 infinite"):
        check_finite(np.array([-np.inf], np.float32), name="raw")
    with pytest.raises(DataError, match="1 NaN"):
        check_finite(np.array([complex(np.nan, 0)]))


def test_labels_accepted_and_converted():
    u = np.array([[0, 3]], np.uint16)
    assert check_labels(u) is u
    b = np.array([True, False])
    assert check_labels(b) is b
    f = np.array([[0.0, 2.0], [7.0, 0.0]], np.float32)  # Fiji-style float labels
    out = check_labels(f)
    assert out.dtype == np.int32 and out.tolist() == [[0, 2], [7, 0]]
    big = np.array([0.0, 2.0**40])
    assert check_labels(big).dtype == np.int64
    assert check_labels(np.zeros((0,), np.float64)).dtype == np.int32
    assert check_labels(np.array([0, 5], np.int64)).tolist() == [0, 5]


@pytest.mark.parametrize(
    ("labels", "kwargs", "match"),
    [
        (np.array([0.0, 1.5]), {}, r"labels hold non-integer values \(e.g. 1.5\) in a float64"),
        (np.array([0.0, np.nan], np.float32), {}, r"hold 1 NaN or infinite value\(s\)"),
        (np.array([0.0, -2.0]), {}, r"negative values \(minimum -2.0\)"),
        (np.array([0, -1], np.int16), {}, r"negative values \(minimum -1\).*0 for background"),
        (np.array(["a"]), {}, "labels have dtype <U1; expected integer labels"),
        (np.array([1.0]), {"allow_float": False}, "dtype float64.*convert the float array"),
        (np.array([1j]), {}, "dtype complex128"),
    ],
)
def test_labels_errors(labels, kwargs, match):
    with pytest.raises(DataError, match=match):
        check_labels(labels, **kwargs)


def test_labels_error_names_file_and_parameter():
    with pytest.raises(DataError, match=r"^s/a.tif: scribbles have negative values"):
        check_labels(np.array([-1, 0]), name="scribbles", source="s/a.tif")


def test_ndim():
    assert check_ndim(np.zeros((2, 2, 2)), (2, 3)) == 3
    assert check_ndim(np.zeros((2, 2)), 2) == 2
    with pytest.raises(
        DataError,
        match=r"^b.tif: mask has 4 dimension\(s\) \(shape \(1, 1, 1, 1\)\); expected 2 or 3",
    ):
        check_ndim(np.zeros((1, 1, 1, 1)), (2, 3), name="mask", source="b.tif")


def test_channel():
    assert check_channel(np.int64(1), 3) == 1
    with pytest.raises(
        ParameterError,
        match=r"channel=2 but the image \(a.tif\) has 2 channel\(s\); exp.*from 0 to 1",
    ):
        check_channel(2, 2, source="a.tif")
    with pytest.raises(ParameterError, match="channel=-1 but the image has 2"):
        check_channel(-1, 2)
    with pytest.raises(
        ParameterError, match=r"nuclei_channel must be an integer channel index, got 1\.0"
    ):
        check_channel(1.0, 2, name="nuclei_channel")
    with pytest.raises(ParameterError, match="got True"):
        check_channel(True, 2)


def test_fraction_and_iou_thresholds():
    assert check_fraction(1, name="val") == 1.0
    assert check_fraction(0.0, name="alpha", low_open=False) == 0.0
    for bad in (0, 1.5, -0.1, float("nan"), "0.5", None, True):
        with pytest.raises(ParameterError, match=r"val must be a number in \(0, 1\]"):
            check_fraction(bad, name="val")
    with pytest.raises(ParameterError, match=r"alpha must be a number in \[0, 1\], got 2"):
        check_fraction(2, name="alpha", low_open=False)
    assert check_iou_thresholds([0.5, 1.0]) == (0.5, 1.0)
    assert check_iou_thresholds(np.array([0.5, 0.75])) == (0.5, 0.75)
    assert check_iou_thresholds(0.3) == (0.3,)
    with pytest.raises(
        ParameterError, match=r"iou_thresholds value must be a number in \(0, 1\], got 0.0"
    ):
        check_iou_thresholds([0.5, 0.0])
    for bad in ([], "0.5", None):
        with pytest.raises(ParameterError, match=r"iou_thresholds must be one or more numbers"):
            check_iou_thresholds(bad)


def test_positive():
    assert check_positive(2.5, name="sigma") == 2.5
    assert check_positive(np.int32(3), name="epochs", integer=True) == 3
    for bad in (0, -1.0, float("inf"), float("nan"), "1", True):
        with pytest.raises(ParameterError, match="sigma must be a positive finite number"):
            check_positive(bad, name="sigma")
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ParameterError, match="epochs must be a positive integer"):
            check_positive(bad, name="epochs", integer=True)


def test_channel_layout():
    assert check_channel_layout(np.zeros((4, 5)), 2).shape == (1, 4, 5)
    assert check_channel_layout([[1, 2]], 2).shape == (1, 1, 2)
    three = np.zeros((2, 3, 4, 5))
    assert check_channel_layout(three, 3) is three
    with pytest.raises(
        DataError,
        match=r"^a.tif: image has shape \(2, 2, 2, 2\); expected 2 spatial dim.*\(C, Y, X\)",
    ):
        check_channel_layout(np.zeros((2, 2, 2, 2)), 2, source="a.tif")
    with pytest.raises(DataError, match=r"looks channel-last .*numpy.moveaxis"):
        check_channel_layout(np.zeros((32, 32, 3)), 2)


def test_errors_are_user_errors_and_value_errors():
    with pytest.raises(UserError):
        check_spacing(-1, 2)
    with pytest.raises(ValueError, match="negative"):
        check_labels(np.array([-1]))
