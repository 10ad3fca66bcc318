"""synthetic_em_volume: lazy, chunk-independent, anisotropic mitochondria with exact labels."""

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.segmentation import find_boundaries

from biakit.data._em_volume import _segment_distance, em_volume_objects, synthetic_em_volume
from biakit.errors import ParameterError

SHAPE = (32, 192, 192)
SMALL = {"density": 30.0, "radius": (40.0, 70.0), "length": (0.0, 300.0), "seed": 3}


@pytest.fixture(scope="module")
def volume():
    image, labels = synthetic_em_volume(SHAPE, chunks=SHAPE, **SMALL)
    return image.compute(), labels.compute(), em_volume_objects(SHAPE, **SMALL)


def test_chunk_wise_equals_whole_and_is_deterministic(volume):
    image, labels, _ = volume
    lazy_image, lazy_labels = synthetic_em_volume(SHAPE, chunks=(9, 50, 70), **SMALL)
    assert lazy_image.numblocks == (4, 4, 3)
    assert np.array_equal(lazy_image.compute(), image)
    assert np.array_equal(lazy_labels.compute(), labels)
    part = lazy_labels[5:12, 40:90, 100:].compute()  # a region alone, across chunk borders
    assert np.array_equal(part, labels[5:12, 40:90, 100:])
    other = synthetic_em_volume(SHAPE, chunks=SHAPE, **{**SMALL, "seed": 4})[1].compute()
    assert not np.array_equal(other, labels)


def test_labels_are_the_kept_objects_touching_and_crossing_chunks(volume):
    _, labels, table = volume
    ids = np.unique(labels)[1:]
    assert set(ids) <= set(table.loc[table.kept, "id"])
    assert len(ids) >= 0.8 * table.kept.sum() and len(ids) > 50  # the rest barely enter
    z0, z1 = labels[:, :, :-1], labels[:, :, 1:]
    assert np.any((z0 > 0) & (z1 > 0) & (z0 != z1))  # touching neighbours
    chunks = [labels[:, :96, :96], labels[:, :96, 96:], labels[:, 96:, :96], labels[:, 96:, 96:]]
    in_chunks = sum(np.isin(ids, np.unique(c)) for c in chunks)
    assert np.sum(in_chunks > 1) >= 3  # some objects cross chunk borders


def test_object_geometry_is_anisotropic_and_exact(volume):
    _, labels, table = volume
    spacing = np.array([30.0, 8.0, 8.0])
    boxes = ndi.find_objects(labels)
    rows = table.set_index("id")
    touching = set()
    for axis in range(3):
        a = np.moveaxis(labels, axis, 0)
        pair = (a[:-1] > 0) & (a[1:] > 0) & (a[:-1] != a[1:])
        touching |= set(a[:-1][pair]) | set(a[1:][pair])
    checked = 0
    for label in np.unique(labels)[1:]:
        box = boxes[label - 1]
        if label in touching or any(s.start == 0 or s.stop == n for s, n in zip(box, labels.shape)):
            continue
        obj = rows.loc[label]
        u = np.abs([obj.dz, obj.dy, obj.dx])
        extent = 2 * (u * obj.length / 2 + obj.radius)  # the capsule's bounding box (nm)
        voxels = np.array([s.stop - s.start for s in box])
        assert np.all(np.abs(voxels * spacing - extent) <= 2 * spacing)
        volume_nm = np.pi * obj.radius**2 * obj.length + 4 / 3 * np.pi * obj.radius**3
        count = np.sum(labels[box] == label) * np.prod(spacing)
        assert abs(count / volume_nm - 1) < 0.2
        checked += 1
    assert checked >= 20


def test_object_statistics_follow_the_parameters():
    shape = (200, 1000, 1000)  # 6 x 8 x 8 µm: parameters only, nothing rendered
    table = em_volume_objects(shape, density=3.0, radius=(50, 100), length=(100, 600), seed=0)
    size = np.array(shape) * [30.0, 8.0, 8.0]
    inside = np.all((table[["z", "y", "x"]].to_numpy() >= 0) & (table[["z", "y", "x"]] < size), 1)
    expected = 3.0 * np.prod(size) / 1e9
    assert abs(inside.sum() - expected) < 4 * np.sqrt(expected)  # Poisson
    assert table.radius.between(50, 100).all() and table.length.between(100, 600).all()
    assert abs(table.radius.mean() - 75) < 3 and abs(table.length.mean() - 350) < 20
    assert abs(np.abs(table.dz).mean() - 0.5) < 0.04  # isotropic directions
    assert 0.6 < table.kept.mean() < 1.0
    kept = table[table.kept]
    c = kept[["z", "y", "x"]].to_numpy()
    length, radii = kept.length.to_numpy(), kept.radius.to_numpy()
    u = kept[["dz", "dy", "dx"]].to_numpy() * length[:, None]
    i, j = np.triu_indices(len(kept), 1)
    reach = (length[i] + length[j]) / 2 + radii[i] + radii[j]
    near = np.linalg.norm(c[i] - c[j], axis=1) < reach  # the only pairs that may conflict
    i, j = i[near], j[near]
    t = np.linspace(-0.5, 0.5, 41)
    points = c[:, None] + t[None, :, None] * u[:, None]  # dense samples of each axis
    gaps = np.linalg.norm(points[i][:, :, None] - points[j][:, None], axis=-1).min((1, 2))
    step = np.maximum(length[i], length[j]) / 40
    assert len(i) > 20 and np.all(gaps + step >= 0.8 * (radii[i] + radii[j]))  # hard core


def test_segment_distance_matches_dense_sampling():
    rng = np.random.default_rng(0)
    p1, p2 = rng.normal(size=(200, 3)), rng.normal(size=(200, 3))
    d1, d2 = rng.normal(size=(200, 3)), rng.normal(size=(200, 3))
    d2[:20] = 0  # a point
    d1[20:40] = d2[20:40]  # parallel
    t = np.linspace(0, 1, 101)
    a = p1[:, None] + t[None, :, None] * d1[:, None]
    b = p2[:, None] + t[None, :, None] * d2[:, None]
    dense = np.linalg.norm(a[:, :, None] - b[:, None], axis=-1).min((1, 2))
    exact = _segment_distance(p1, d1, p2, d2)
    assert np.all(exact <= dense + 1e-9) and np.allclose(exact, dense, atol=0.06)


def test_em_contrast(volume):
    image, labels, _ = volume
    inside = labels > 0
    rim = find_boundaries(labels, mode="inner") & inside
    assert image[~inside].mean() - image[inside & ~rim].mean() > 30  # darker mitochondria
    assert image[inside & ~rim].mean() - image[rim].mean() > 10  # darker membranes
    assert 8 < image[~inside].std() < 25  # noisy cytoplasm


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (10, 10)}, r"shape must be 3 positive integers \(Z, Y, X\), got \(10, 10\)"),
        ({"spacing": (30, -8, 8)}, "spacing must be 3 positive numbers"),
        ({"density": -1.0}, "density must be a number >= 0"),
        ({"radius": (50, 20)}, "radius must satisfy"),
        ({"length": "long"}, "length must be a number or a"),
        ({"membrane": 80.0}, "membrane must be >= 0 and below the smallest radius 60"),
        ({"seed": -2}, "seed must be an integer >= 0, got -2"),
        ({"chunks": (0, 8, 8)}, "chunks must be 1 or 3 positive integers"),
    ],
)
def test_parameter_errors(kwargs, match):
    args = {"shape": (8, 32, 32), **kwargs}
    with pytest.raises(ParameterError, match=match):
        synthetic_em_volume(**args)
