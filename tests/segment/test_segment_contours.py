import numpy as np
import pytest
from skimage import measure, segmentation

from biakit.blocks import apply_blockwise
from biakit.segment import boundaries, find_contours, mesh_surface


def _polygon_area(c):
    y, x = c[:, 0], c[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


def test_find_contours_square_and_ids():
    labels = np.zeros((12, 14), dtype=np.int32)
    labels[1:3, 1:3] = 4
    labels[5:10, 6:12] = 9  # touches nothing
    out = find_contours(labels)
    assert sorted(out) == [4, 9]
    sq = out[4][0]
    assert sq.shape[1] == 2
    np.testing.assert_allclose(sq.min(axis=0), [0.5, 0.5])
    np.testing.assert_allclose(sq.max(axis=0), [2.5, 2.5])
    np.testing.assert_allclose(sq[0], sq[-1])  # closed
    # marching squares at 0.5 cuts the corners: area = 5 * 6 - 4 * 0.125
    assert _polygon_area(out[9][0]) == pytest.approx(30 - 0.5)


def test_find_contours_disc_area_and_hole_and_mask(balls):
    disc = balls((60, 60), [(30, 30)], 20)
    contour = find_contours(disc)[1]
    assert len(contour) == 1
    assert _polygon_area(contour[0]) == pytest.approx(np.pi * 20**2, rel=0.02)
    ring = disc.copy()
    ring[balls((60, 60), [(30, 30)], 8) > 0] = 0
    assert len(find_contours(ring > 0)[1]) == 2  # outer outline + hole
    # touching objects keep their own outlines; same as skimage on each indicator
    two = np.zeros((10, 10), np.int32)
    two[2:8, 2:5], two[2:8, 5:8] = 1, 2
    ref = measure.find_contours(np.pad((two == 2).astype(float), 1), 0.5)[0] - 1
    np.testing.assert_allclose(find_contours(two)[2][0], ref)
    assert find_contours(np.zeros((5, 5), int)) == {}


def test_find_contours_errors():
    with pytest.raises(ValueError, match="must be 2D"):
        find_contours(np.zeros((3, 3, 3), int))
    with pytest.raises(ValueError, match="level must be in"):
        find_contours(np.zeros((3, 3), int), level=1.0)
    with pytest.raises(TypeError, match="integer label image or a boolean mask"):
        find_contours(np.zeros((3, 3)))


def test_mesh_surface_sphere_physical(balls):
    spacing = (2.0, 0.5, 0.5)
    labels = balls((20, 60, 60), [(20.0, 15.0, 15.0)], 10.0, spacing) * 3
    verts, faces = mesh_surface(labels, 3, spacing=spacing)
    assert verts.shape[1] == 3 and faces.shape[1] == 3
    radii = np.linalg.norm(verts - [20.0, 15.0, 15.0], axis=1)
    assert abs(radii.mean() - 10.0) < 0.6
    # identical to marching cubes on the whole volume, up to vertex order
    ref_verts, ref_faces, _, _ = measure.marching_cubes(
        np.pad((labels == 3).astype(np.float32), 1), 0.5, spacing=spacing
    )
    ref_verts -= spacing
    np.testing.assert_allclose(np.sort(verts, axis=0), np.sort(ref_verts, axis=0), atol=1e-5)
    area = measure.mesh_surface_area(verts, faces)
    assert area == pytest.approx(measure.mesh_surface_area(ref_verts, ref_faces))
    assert area == pytest.approx(4 * np.pi * 10.0**2, rel=0.2)  # staircase overestimate


def test_mesh_surface_box_offset():
    labels = np.zeros((6, 6, 6), dtype=int)
    labels[2:4, 2:4, 2:4] = 1
    verts, _ = mesh_surface(labels, 1, spacing=(2.0, 1.0, 1.0))
    np.testing.assert_allclose(verts.min(axis=0), [3.0, 1.5, 1.5])
    np.testing.assert_allclose(verts.max(axis=0), [7.0, 3.5, 3.5])
    verts_mask, _ = mesh_surface(labels > 0, 1)
    np.testing.assert_allclose(verts_mask.min(axis=0), [1.5, 1.5, 1.5])


def test_mesh_surface_errors():
    labels = np.zeros((4, 4, 4), int)
    labels[1:3, 1:3, 1:3] = 1
    with pytest.raises(ValueError, match="does not occur"):
        mesh_surface(labels, 2)
    with pytest.raises(ValueError, match="label_id must be a positive int"):
        mesh_surface(labels, 0)
    with pytest.raises(ValueError, match="must be 3D"):
        mesh_surface(labels[0], 1)
    with pytest.raises(ValueError, match="level must be in"):
        mesh_surface(labels, 1, level=2.0)
    with pytest.raises(ValueError, match=r"spacing has 2 value\(s\) .* 3 spatial axes"):
        mesh_surface(labels, 1, spacing=(1, 1))


@pytest.mark.parametrize("mode", ["inner", "outer", "thick"])
def test_boundaries_reference_and_blockwise(mode):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=(8, 24, 24)).repeat(2, axis=1).repeat(2, axis=2)
    out = boundaries(labels, mode)
    thick = segmentation.find_boundaries(labels, mode="thick")
    expected = {"thick": thick, "inner": thick & (labels > 0)}
    if mode in expected:
        np.testing.assert_array_equal(out, expected[mode])
    else:  # a pixel is "outer" iff a face neighbour has a higher id
        ref = np.zeros(labels.shape, bool)
        for axis in range(3):
            for shift in (1, -1):
                nb = np.roll(labels, shift, axis=axis)
                edge = [slice(None)] * 3
                edge[axis] = 0 if shift == 1 else -1
                nb[tuple(edge)] = 0
                ref |= nb > labels
        np.testing.assert_array_equal(out, ref)
    blocks = apply_blockwise(boundaries, labels, chunks=(4, 12, 12), mode=mode).compute()
    np.testing.assert_array_equal(blocks, out)


def test_boundaries_hand_case():
    labels = np.zeros((5, 5), dtype=int)
    labels[1:4, 1:4] = 1
    assert boundaries(labels, "inner").sum() == 8
    assert boundaries(labels, "outer").sum() == 12  # 4-connected ring outside
    assert boundaries(labels, "outer", connectivity=2).sum() == 16
    two = np.array([[1, 1, 2, 2]])
    np.testing.assert_array_equal(boundaries(two, "outer"), [[False, True, False, False]])
    np.testing.assert_array_equal(boundaries(two, "inner"), [[False, True, True, False]])
    assert boundaries(labels > 0, "thick").sum() == 20
    with pytest.raises(ValueError, match="mode must be one of 'inner'"):
        boundaries(labels, "subpixel")
