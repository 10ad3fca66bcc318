"""Intensity statistics against NumPy computed object by object."""

import numpy as np
import pytest
from skimage.measure import regionprops_table

from biakit.measure import measure_objects

STATS = {
    "mean_intensity": np.mean, "min_intensity": np.min, "max_intensity": np.max,
    "std_intensity": np.std, "median_intensity": np.median,
}  # fmt: skip


def _check(df, labels, image, suffix="", pixel_size=1.0):
    for row in df.itertuples(index=False):
        vals = image[labels == row.label]
        for col, func in STATS.items():
            assert getattr(row, col + suffix) == pytest.approx(func(vals), rel=1e-12, abs=1e-12)
        assert getattr(row, "integrated_intensity" + suffix) == pytest.approx(
            vals.sum() * pixel_size, rel=1e-12
        )


def test_stats_equal_numpy_per_object(blobs2d):
    labels, image = blobs2d
    df = measure_objects(labels, image, spacing=(0.5, 0.25))
    assert len(df) == labels.max()
    _check(df, labels, image, pixel_size=0.125)


def test_even_and_odd_sized_medians_and_integer_image():
    labels = np.array([[1, 1, 2, 2, 2], [0, 0, 5, 5, 5]])
    image = np.array([[4, 9, 1, 7, 3], [100, 100, 2, 2, 8]], dtype=np.uint8)
    df = measure_objects(labels, image, spacing=(1.0, 2.0))
    assert df["median_intensity"].tolist() == [6.5, 3.0, 2.0]
    assert df["integrated_intensity"].tolist() == [26.0, 22.0, 24.0]  # uint8 sums do not wrap
    assert df["min_intensity"].tolist() == [4.0, 1.0, 2.0]


def test_3d_stats_and_regionprops(blobs3d):
    labels, image = blobs3d
    df = measure_objects(labels, image, spacing=(2.0, 1.0, 1.0), properties=[
        "mean_intensity", "min_intensity", "max_intensity", "std_intensity", "median_intensity",
        "integrated_intensity"])  # fmt: skip
    _check(df, labels, image, pixel_size=2.0)
    ref = regionprops_table(labels, image, properties=["intensity_mean", "intensity_median"])
    np.testing.assert_allclose(df["mean_intensity"], ref["intensity_mean"], rtol=1e-12)
    np.testing.assert_allclose(df["median_intensity"], ref["intensity_median"], rtol=1e-12)


@pytest.mark.parametrize("channel_axis", [None, -1, 0])
def test_multichannel_suffixes(blobs2d, channel_axis):
    labels, image = blobs2d
    stack = np.stack([image, 10 * image**2, -image], axis=-1)  # Y, X, C
    given = np.moveaxis(stack, -1, 0) if channel_axis == 0 else stack
    props = [*STATS, "integrated_intensity"]
    df = measure_objects(labels, given, channel_axis=channel_axis, properties=props)
    assert "mean_intensity_c2" in df.columns and "mean_intensity" not in df.columns
    for c in range(3):
        _check(df, labels, stack[..., c], suffix=f"_c{c}")
    assert df.attrs["units"]["integrated_intensity_c1"] == "intensity*micrometer^2"


def test_single_channel_axis_keeps_suffix():
    labels = np.ones((3, 3), dtype=int)
    df = measure_objects(labels, np.ones((3, 3, 1)), properties=["mean_intensity"])
    assert df.columns.tolist() == ["label", "mean_intensity_c0"]
