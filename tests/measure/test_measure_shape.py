"""Shape features against geometric truth and against skimage.measure.regionprops."""

import warnings

import numpy as np
import pytest
from skimage.measure import perimeter, regionprops_table

from biakit.measure import SHAPE_2D, SHAPE_3D, measure_objects
from biakit.measure._columns import column_names

PAIRS = {  # biakit column -> skimage regionprops_table column
    "centroid_y": "centroid-0", "centroid_x": "centroid-1",
    "major_axis_length": "axis_major_length", "minor_axis_length": "axis_minor_length",
    "solidity": "solidity", "extent": "extent", "equivalent_diameter": "equivalent_diameter_area",
    "bbox_min_y": "bbox-0", "bbox_min_x": "bbox-1", "bbox_max_y": "bbox-2", "bbox_max_x": "bbox-3",
}  # fmt: skip


def test_disc_physical_area_and_axes(make_ball):
    r = 20  # pixels; spacing 0.5 -> physical radius 10
    df = measure_objects(make_ball(r, (1, 1)), spacing=(0.5, 0.5))
    assert df["area"][0] == pytest.approx(np.pi * (0.5 * r) ** 2, rel=0.02)
    assert df["equivalent_diameter"][0] == pytest.approx(r, rel=0.02)
    assert df["major_axis_length"][0] == pytest.approx(r, rel=0.02)
    assert df["minor_axis_length"][0] == pytest.approx(r, rel=0.02)
    assert df["eccentricity"][0] == pytest.approx(0, abs=1e-6)
    # skimage's perimeter over-estimates digital circles by about 5 %
    assert df["perimeter"][0] == pytest.approx(2 * np.pi * 0.5 * r, rel=0.06)
    assert df["solidity"][0] > 0.95


def test_anisotropic_disc_round_in_physical_space(make_ball):
    spacing = (1.0, 0.5)  # 2:1 pixels; the object is an ellipse in pixels, a disc in physical space
    df = measure_objects(make_ball(10, spacing), spacing=spacing)
    assert df["area"][0] == pytest.approx(np.pi * 100, rel=0.02)
    assert df["major_axis_length"][0] == pytest.approx(20, rel=0.03)
    assert df["minor_axis_length"][0] == pytest.approx(20, rel=0.03)
    assert df["eccentricity"][0] < 0.25
    # documented bias of the physically weighted skimage perimeter: about +8 % at 2:1
    assert df["perimeter"][0] == pytest.approx(2 * np.pi * 10, rel=0.10)


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.5, 0.25), (2.0, 0.5)])
def test_rectangle_exact(spacing):
    h, w = 7, 12
    labels = np.zeros((15, 20), dtype=np.uint8)
    labels[3 : 3 + h, 4 : 4 + w] = 9
    df = measure_objects(labels, spacing=spacing)
    sy, sx = spacing
    assert df["area"][0] == pytest.approx(h * w * sy * sx)
    # skimage convention: the polygon through boundary-pixel centres, 2((w-1) sx + (h-1) sy)
    assert df["perimeter"][0] == pytest.approx(2 * ((w - 1) * sx + (h - 1) * sy))
    assert df["perimeter"][0] == pytest.approx(2 * (w * sx + h * sy), rel=2 * (sx + sy) / (w * sx))
    assert df["solidity"][0] == 1.0
    assert df["extent"][0] == 1.0
    assert df[["bbox_min_y", "bbox_min_x", "bbox_max_y", "bbox_max_x"]].iloc[0].tolist() == [
        3, 4, 3 + h, 4 + w,
    ]  # fmt: skip
    assert df["centroid_y"][0] == pytest.approx((3 + (h - 1) / 2) * sy)
    assert df["centroid_x"][0] == pytest.approx((4 + (w - 1) / 2) * sx)


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.5, 0.5), (2.0, 0.7)])
def test_2d_matches_regionprops(blobs2d, spacing):
    labels, _ = blobs2d
    df = measure_objects(labels, spacing=spacing)
    props = ["label", "area", "centroid", "axis_major_length", "axis_minor_length",
             "eccentricity", "solidity", "extent", "equivalent_diameter_area", "bbox"]  # fmt: skip
    ref = regionprops_table(labels, spacing=spacing, properties=props)
    np.testing.assert_array_equal(df["label"], ref["label"])
    for ours, theirs in {**PAIRS, "area": "area", "eccentricity": "eccentricity"}.items():
        np.testing.assert_allclose(df[ours], ref[theirs], rtol=1e-9, atol=1e-9, err_msg=ours)
    if spacing[0] == spacing[1]:  # skimage's perimeter supports isotropic spacing only
        np.testing.assert_allclose(
            df["perimeter"], [perimeter(labels == i) * spacing[0] for i in df["label"]], rtol=1e-12
        )


def test_3d_matches_regionprops(blobs3d):
    labels, _ = blobs3d
    spacing = (2.0, 0.5, 0.5)
    ours = ["centroid", "bbox", "volume", "major_axis_length", "minor_axis_length", "solidity",
            "extent"]  # fmt: skip
    df = measure_objects(labels, spacing=spacing, properties=ours)
    props = ["label", "area", "centroid", "axis_major_length", "axis_minor_length", "solidity",
             "extent", "bbox"]  # fmt: skip
    with warnings.catch_warnings():  # skimage's hull warns on flat objects; ours does not
        warnings.simplefilter("ignore")
        ref = regionprops_table(labels, spacing=spacing, properties=props)
    pairs = {"volume": "area", "centroid_z": "centroid-0", "centroid_y": "centroid-1",
             "centroid_x": "centroid-2", "major_axis_length": "axis_major_length",
             "minor_axis_length": "axis_minor_length", "extent": "extent",
             "bbox_min_z": "bbox-0", "bbox_max_x": "bbox-5"}  # fmt: skip
    for ours, theirs in pairs.items():
        np.testing.assert_allclose(df[ours], ref[theirs], rtol=1e-9, atol=1e-9, err_msg=ours)
    solid = np.isfinite(ref["solidity"]) & (ref["solidity"] <= 1)  # skimage: inf on flat objects
    np.testing.assert_allclose(df["solidity"][solid], ref["solidity"][solid], rtol=1e-12)
    assert np.all((df["solidity"] > 0) & (df["solidity"] <= 1))


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.0, 1.0, 1.0)])
def test_sphere_volume_surface_sphericity(spacing, make_ball):
    radius = 10.0
    df = measure_objects(make_ball(radius, spacing), spacing=spacing)
    assert df["volume"][0] == pytest.approx(4 / 3 * np.pi * radius**3, rel=0.03)
    assert df["surface_area"][0] == pytest.approx(4 * np.pi * radius**2, rel=0.03)
    assert df["sphericity"][0] == pytest.approx(1.0, rel=0.05)
    assert df["major_axis_length"][0] == pytest.approx(2 * radius, rel=0.03)
    assert df["minor_axis_length"][0] == pytest.approx(2 * radius, rel=0.03)
    assert df["equivalent_diameter"][0] == pytest.approx(2 * radius, rel=0.02)


def test_raw_marching_cubes_overestimates_curved_surfaces(make_ball):
    df = measure_objects(make_ball(10, (1, 1, 1)), spacing=1, properties=["sphericity"],
                         mesh_smoothing=0)  # fmt: skip
    assert 0.88 < df["sphericity"][0] < 0.94  # voxel terracing: about +9 % area


@pytest.mark.parametrize(("n", "spacing"), [(20, (1.0, 1.0, 1.0)), (15, (2.0, 1.0, 1.0))])
def test_cube_sphericity(n, spacing):
    nz = n  # n z-slices of thickness spacing[0]
    ny = int(n * spacing[0])  # same physical side along y and x
    labels = np.zeros((nz + 4, ny + 4, ny + 4), dtype=np.int16)
    labels[2 : 2 + nz, 2 : 2 + ny, 2 : 2 + ny] = 3
    df = measure_objects(labels, spacing=spacing)
    side = n * spacing[0]
    assert df["volume"][0] == pytest.approx(side**3)
    # marching cubes chamfers the 12 edges: area a little low, sphericity a little high
    assert df["surface_area"][0] == pytest.approx(6 * side**2, rel=0.06)
    assert df["sphericity"][0] == pytest.approx((np.pi / 6) ** (1 / 3), rel=0.05)
    assert df["solidity"][0] == 1.0 and df["extent"][0] == 1.0


def test_ellipsoid_axes():
    a, b, c = 12.0, 8.0, 5.0
    z, y, x = np.mgrid[-14:15, -14:15, -14:15].astype(float)
    labels = ((z / c) ** 2 + (y / b) ** 2 + (x / a) ** 2 <= 1).astype(np.uint8)
    df = measure_objects(labels)
    assert df["major_axis_length"][0] == pytest.approx(2 * a, rel=0.03)
    assert df["minor_axis_length"][0] == pytest.approx(2 * c, rel=0.05)
    assert df["eccentricity"][0] == pytest.approx(np.sqrt(1 - (c / a) ** 2), rel=0.02)


def test_degenerate_3d_objects_no_warnings():
    labels = np.zeros((6, 8, 8), dtype=np.int32)
    labels[1, 1, 1] = 1  # single voxel
    labels[3, 2:6, 2:7] = 2  # flat plate, one slice thick
    labels[1:5, 6, 7] = 3  # line
    df = measure_objects(labels)
    assert df["label"].tolist() == [1, 2, 3]
    assert np.all(np.isfinite(df.drop(columns="label").to_numpy(dtype=float)))
    assert df["solidity"].tolist() == [1.0, 1.0, 1.0]
    assert df["eccentricity"][0] == 0.0


@pytest.mark.parametrize(("ndim", "props"), [(2, SHAPE_2D), (3, SHAPE_3D)])
def test_empty_label_image(ndim, props):
    labels = np.zeros((5,) * ndim, dtype=np.uint16)
    df = measure_objects(labels, np.ones((5,) * ndim))
    assert len(df) == 0
    expected = ["label"] + [c for p in props for c in column_names(p, ndim, None)]
    assert df.columns.tolist()[: len(expected)] == expected
    assert "mean_intensity" in df.columns and "integrated_intensity" in df.columns


def test_non_consecutive_and_huge_label_ids():
    labels = np.zeros((10, 10), dtype=np.uint64)
    labels[0:2, 0:2] = 3
    labels[5:8, 5:6] = 2**40
    labels[9, 9] = 17
    df = measure_objects(labels, properties=["area", "centroid"])
    assert df["label"].tolist() == [3, 17, 2**40]
    assert df["area"].tolist() == [4.0, 1.0, 3.0]
    assert df["centroid_y"].tolist() == [0.5, 9.0, 6.0]


def test_properties_subset_and_order():
    labels = np.zeros((6, 6), dtype=int)
    labels[1:4, 1:3] = 2
    df = measure_objects(labels, spacing=2.0, properties=["extent", "area"])
    assert df.columns.tolist() == ["label", "extent", "area"]
    assert df.attrs["units"] == {"label": "", "extent": "", "area": "micrometer^2"}


@pytest.mark.parametrize("ndim", [2, 3])
def test_convex_count_equals_skimage_hull(ndim):
    from skimage.morphology import convex_hull_image

    from biakit.measure._shape import convex_count

    rng = np.random.default_rng(ndim)
    for _ in range(40):
        mask = rng.random((7,) * ndim) < 0.3
        mask[(3,) * ndim] = True
        mask[(0,) * ndim] = True  # not flat
        mask[(6,) * ndim] = True
        assert convex_count(mask) == convex_hull_image(mask).sum()
