"""label_blockwise: hand-built stitching cases, error paths, outputs and schedulers."""

import threading

import dask.array as da
import numpy as np
import pytest
import zarr
from scipy import ndimage as ndi
from skimage.measure import label as sk_label

from biakit.blocks import GLOBAL, declare_halo
from biakit.cancel import Cancelled, cancellable
from biakit.distributed._stitch import iter_label_blockwise, label_blockwise
from biakit.distributed._stitch_block import relabel_core
from biakit.distributed._stitch_match import band_iou, one_to_one
from biakit.errors import DataError, ParameterError
from biakit.metrics import match_instances


def cc(block):
    return ndi.label(block > 0)[0]


def raster_order(labels):
    """Relabel 1..N in raster order of each object's first pixel (the stitcher's numbering)."""
    values, first = np.unique(labels.ravel(), return_index=True)
    keep = values > 0
    lut = np.zeros(int(values.max()) + 1, np.int64)
    lut[values[keep][np.argsort(first[keep])]] = np.arange(1, keep.sum() + 1)
    return lut[labels]


def test_touching_objects_across_a_face_stay_two():
    # two regions of different value touch exactly on the face x = 8 between two blocks
    image = np.zeros((12, 16), np.uint8)
    image[3:9, 2:8] = 1
    image[3:9, 8:14] = 2
    labels = label_blockwise(image, lambda b: sk_label(b), block_shape=8, halo=8)
    assert labels.max() == 2
    assert np.array_equal(labels, raster_order(sk_label(image)))
    # the same objects crossing the face (not touching) are joined into one each
    image[3:9, 2:14] = 1
    assert label_blockwise(image, lambda b: sk_label(b), block_shape=8, halo=14).max() == 1


def test_objects_crossing_faces_edges_and_corners_are_joined():
    image = np.zeros((16, 16), np.uint8)
    image[np.arange(1, 15), np.arange(1, 15)] = 1  # 8-connected diagonal through 3 corners
    image[2:14, 12] = 1
    full = np.ones((3, 3), bool)
    labels = label_blockwise(
        image, lambda b: ndi.label(b, structure=full)[0], block_shape=4, halo=16
    )
    assert labels.max() == 1 and np.array_equal(labels > 0, image > 0)


def test_equals_whole_image_in_3d_with_dask_source():
    rng = np.random.default_rng(0)
    image = ndi.gaussian_filter(rng.random((24, 40, 40)), 2) > 0.52
    whole = ndi.label(image)[0]
    extent = max(max(s.stop - s.start for s in box) for box in ndi.find_objects(whole))
    source = da.from_array(image, chunks=(7, 9, 11))
    labels = label_blockwise(source, cc, block_shape=(8, 16, 16), halo=extent)
    assert np.array_equal(labels, raster_order(whole))


def test_segmentation_differing_near_borders_still_gives_one_object():
    # a threshold following each block's mean moves the objects' boundaries between blocks
    yy, xx = np.mgrid[0:64, 0:96].astype(float)
    truth = np.zeros((64, 96), np.int32)
    image = 0.002 * xx
    for k, (cy, cx, ry, rx) in enumerate([(16, 44, 5, 26), (46, 70, 9, 9), (46, 20, 8, 6)], 1):
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        truth[inside <= 1] = k
        image += np.exp(-0.5 * inside)

    def per_block(block):
        return ndi.label(block > 0.25 + block.mean())[0]

    labels = label_blockwise(image, per_block, block_shape=8, halo=64)
    assert not np.array_equal(labels > 0, per_block(image) > 0)  # blocks disagree at borders
    assert labels.max() == 3
    assert match_instances(truth, labels, thresh=0.5).f1 == 1.0


def test_object_larger_than_the_halo_raises_with_the_halo_needed():
    image = np.zeros((8, 40), np.uint8)
    image[2:5, 3:35] = 1
    with pytest.raises(DataError, match=r"block \[0:8, \d+:\d+\]: an object .* use halo >= \d+"):
        label_blockwise(image, cc, block_shape=8, halo=6)
    assert label_blockwise(image, cc, block_shape=8, halo=32).max() == 1


def test_large_objects_merged_through_the_bands_on_request():
    rng = np.random.default_rng(5)
    image = ndi.gaussian_filter(rng.random((96, 96)), 2) > 0.5  # percolating: huge objects
    whole = raster_order(cc(image))
    steps = list(iter_label_blockwise(image, cc, block_shape=16, halo=4, large="merge"))
    assert steps[-1].n_cut > 0 and steps[-1].n_objects == whole.max()
    assert np.array_equal(label_blockwise(image, cc, block_shape=16, halo=4, large="merge"), whole)
    u_shape = np.zeros((8, 48), np.uint8)  # two arms joined only far right, beyond the halos
    u_shape[1:3, 10:41] = u_shape[5:7, 10:41] = u_shape[1:7, 40] = 1
    labels = label_blockwise(u_shape, cc, block_shape=16, halo=4, large="merge")
    assert labels.max() == 1 and np.array_equal(labels > 0, u_shape > 0)


def test_declared_decoder_context_and_physical_max_extent():
    image = np.zeros((10, 32), np.uint8)
    image[4:6, 7:17] = 1  # 10 pixels long, its first pixel on the last column of block 0

    @declare_halo(3)
    def decoder(block):
        return ndi.label(block)[0]

    with pytest.raises(DataError, match="halo 10 along axis 1"):
        label_blockwise(image, decoder, block_shape=8, halo=10)
    labels = label_blockwise(image, decoder, block_shape=8, max_extent=20.0, spacing=2.0)
    assert labels.max() == 1
    assert label_blockwise(image, cc, block_shape=8, halo=10).max() == 1  # no context: fits


def test_zarr_out_written_block_by_block(tmp_path):
    rng = np.random.default_rng(1)
    image = ndi.gaussian_filter(rng.random((64, 64)), 2) > 0.53
    out = zarr.create_array(
        tmp_path / "labels.zarr", shape=image.shape, chunks=(16, 16), dtype="i4"
    )
    result = label_blockwise(image, cc, block_shape=32, halo=40, out=out)
    assert result is out
    assert np.array_equal(out[...], raster_order(ndi.label(image)[0]))
    with pytest.raises(ParameterError, match=r"block_shape \(24, 24\) must be a multiple"):
        label_blockwise(image, cc, block_shape=24, halo=40, out=out)


def test_progress_and_cancellation():
    image = np.zeros((16, 16), np.uint8)
    image[2:6, 2:14] = 1
    steps = list(iter_label_blockwise(image, cc, block_shape=8, halo=12))
    assert [(s.stage, s.done) for s in steps] == [
        *[("segment", i) for i in range(1, 5)],
        *[("relabel", i) for i in range(1, 5)],
    ]
    assert steps[-1].n_objects == 1 and steps[-1].n_matched == 1
    token = threading.Event()
    token.set()
    with cancellable(token), pytest.raises(Cancelled):
        label_blockwise(image, cc, block_shape=8, halo=12)


def test_relabel_is_idempotent_and_band_matching_is_one_to_one():
    lut = np.array([0, 7, 9])
    once = relabel_core(np.array([0, -1, -2, -1]), lut)
    assert once.tolist() == [0, 7, 9, 7] and relabel_core(once, lut).tolist() == [0, 7, 9, 7]
    a = np.array([1, 1, 1, 1, 2, 2])
    b = np.array([5, 5, 5, 6, 6, 6])
    la, lb, iou = band_iou(a, b)  # IoU(1,5)=3/4, IoU(1,6)=1/6, IoU(2,6)=2/3
    assert la.tolist() == [1, 1, 2] and lb.tolist() == [5, 6, 6]
    assert np.allclose(iou, [0.75, 1 / 6, 2 / 3])
    assert one_to_one(la, lb, iou, 0.5).tolist() == [0, 2]
    assert one_to_one(la, lb, iou, 0.7).tolist() == [0]


def test_distributed_client_gives_the_same_labels(tmp_path):
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(2)
    image = ndi.gaussian_filter(rng.random((48, 48)), 2) > 0.53
    expected = raster_order(ndi.label(image)[0])
    out = zarr.create_array(tmp_path / "l.zarr", shape=image.shape, chunks=(16, 16), dtype="i4")
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0"
    ) as client:
        in_memory = label_blockwise(image, cc, block_shape=16, halo=48, client=client)
        label_blockwise(image, cc, block_shape=16, halo=48, client=client, out=out)
    assert np.array_equal(in_memory, expected) and np.array_equal(out[...], expected)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"halo": None}, ParameterError, "give halo .* or max_extent"),
        ({"halo": 2, "max_extent": 3.0}, ParameterError, "either halo .* not both"),
        ({"halo": None, "max_extent": -1.0}, ParameterError, "must be positive"),
        ({"block_shape": 0}, ParameterError, "block_shape must be >= 1"),
        ({"block_shape": (4, 4, 4)}, ParameterError, "block_shape must be an integer or 2"),
        ({"halo": 1.5}, ParameterError, "halo must be an integer"),
        ({"iou_threshold": 0.0}, ParameterError, r"iou_threshold must be a number in \(0, 1\]"),
        ({"band": 0}, ParameterError, "band must be an integer >= 1"),
        ({"large": "drop"}, ParameterError, "large must be 'raise' or 'merge', got 'drop'"),
        ({"out": np.zeros((8, 8), np.uint16)}, ParameterError, "signed integer dtype"),
        ({"out": np.zeros((4, 8), np.int32)}, ParameterError, r"source's shape \(8, 8\)"),
        ({"out": np.zeros((8, 8), np.int8)}, None, None),
        ({"client": "tcp://x"}, ParameterError, "client must be a dask.distributed.Client"),
    ],
)
def test_parameter_errors(kwargs, error, match):
    image = np.zeros((8, 8), np.uint8)
    image[1:3, 1:3] = 1
    args = {"block_shape": 4, "halo": 2, **kwargs}
    if error is None:
        assert label_blockwise(image, cc, **args).max() == 1
        return
    with pytest.raises(error, match=match):
        label_blockwise(image, cc, **args)


def test_source_and_decoder_errors():
    image = np.zeros((8, 8), np.uint8)
    with pytest.raises(ParameterError, match="source must be an array"):
        label_blockwise([[0]], cc, block_shape=4, halo=2)
    with pytest.raises(ParameterError, match="segment must be a function"):
        label_blockwise(image, "otsu", block_shape=4, halo=2)
    with pytest.raises(ParameterError, match="declares a global halo"):
        label_blockwise(image, declare_halo(GLOBAL)(cc), block_shape=4, halo=2)
    cases = [
        (lambda b: b.astype(float), r"dtype float64 for the block \[\d:\d, \d:\d\]"),
        (lambda b: b[:2], r"shape \(2, 6\) for the block \[\d:\d, \d:\d\] of shape \(6, 6\)"),
        (lambda b: b.astype(int) - 1, r"negative labels \(min -1\)"),
    ]
    for decoder, match in cases:
        with pytest.raises(DataError, match=match):
            label_blockwise(image, decoder, block_shape=4, halo=2)


def test_sparse_label_values_and_boolean_decoders():
    image = np.zeros((8, 8), np.uint8)
    image[1:3, 1:7] = 1
    image[5:7, 1:3] = 1
    huge = label_blockwise(image, lambda b: cc(b).astype(np.int64) * 10**9, block_shape=4, halo=8)
    assert np.array_equal(huge, raster_order(cc(image)))
    assert label_blockwise(image, lambda b: b > 0, block_shape=4, halo=8).max() == 1
