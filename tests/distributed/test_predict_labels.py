"""Block-wise instance labels and points of network workflows equal whole-image prediction.

The networks are real biakit U-Nets whose weights are set by hand so that their maps
are known functions of the image: every logit is ``a * S(x) + b`` with ``S`` a 3^n box
filter applied four times to the normalised image (the deeper levels are cut off by a
zero up-convolution). The test images are maxima of Gaussian blobs, so the maps hold
blob-shaped objects, touching ones split by the watershed, peaks at the blob centres.
Whole-image truth is ``workflow.predict(image)`` (one tile: the whole image).
"""

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from biakit.distributed import iter_predict_blockwise, predict_blockwise
from biakit.errors import DataError, ImageWriteError, ParameterError
from biakit.io import read_image, read_labels, read_points_csv

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _smoothing_unet(wf, cfg, heads):
    """Give ``wf`` a U-Net computing ``sigmoid(a * S(x) + b)`` per output channel."""
    from biakit.nn.models import build_network

    wf.network_config = cfg.network_config(1)
    net = build_network(wf.architecture, wf.network_config).eval()
    ndim = cfg.ndim
    box = torch.full((3,) * ndim, 1.0 / 3**ndim)
    with torch.no_grad():
        for module in net.modules():
            for p in module.parameters(recurse=False):
                p.zero_()
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.weight.fill_(1.0)
                module.running_mean.zero_()
                module.running_var.fill_(1.0)
        for block in (net.encoders[0], net.decoders[0]):
            block.conv1.weight[0, 0] = box
            block.conv2.weight[0, 0] = box
        for c, (a, b) in enumerate(heads):
            net.head.weight[(c, 0) + (0,) * ndim] = a
            net.head.bias[c] = b
    wf.model = net
    return wf


def _instance(ndim, object_size=None):
    from biakit.workflows import InstanceConfig, InstanceSegmenter

    cfg = InstanceConfig(patch_shape=(16,) * ndim, model={"ndim": ndim, "depth": 2,
                         "base_filters": 2}, train={"amp": "none", "device": "cpu"})  # fmt: skip
    wf = InstanceSegmenter(cfg)
    # foreground S > 0.3, contour falls with S, distance (seeds) S > 0.6
    _smoothing_unet(wf, cfg, [(20.0, -6.0), (-20.0, 10.0), (20.0, -12.0)])
    wf.thresholds = {"fg_threshold": 0.5, "seed_threshold": 0.5, "min_size": 4}
    wf.training = {"object_size": object_size} if object_size else {}
    return wf


def _detector(ndim):
    from biakit.workflows import DetectionConfig, Detector

    cfg = DetectionConfig(patch_shape=(16,) * ndim, model={"ndim": ndim, "depth": 2,
                          "base_filters": 2}, train={"amp": "none", "device": "cpu"})  # fmt: skip
    wf = Detector(cfg)
    _smoothing_unet(wf, cfg, [(12.0, -6.0)])
    wf.thresholds = {"threshold": 0.6, "min_distance": 2.0}
    return wf


def _blobs(shape, n, sigma, seed):
    """Maximum of ``n`` Gaussian blobs (peak 1) at random positions, plus a little noise."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1, (n, len(shape))) * np.array(shape)
    grids = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij", sparse=True)
    image = np.zeros(shape, np.float32)
    for c in centres:
        d2 = sum((g - x) ** 2 for g, x in zip(grids, c))
        image = np.maximum(image, np.exp(-d2 / (2 * sigma**2)).astype(np.float32))
    return image + 0.01 * rng.random(shape, dtype=np.float32)


def _by_first_voxel(labels):
    """Relabel 1..N in raster order of each object's first voxel (independent of biakit)."""
    flat = labels.ravel()
    ids, first = np.unique(flat, return_index=True)
    keep = ids > 0
    order = ids[keep][np.argsort(first[keep])]
    lut = np.zeros(int(flat.max()) + 1, np.int64)
    lut[order] = np.arange(1, len(order) + 1)
    return lut[labels]


def _extents(labels):
    return np.array([[s.stop - s.start for s in box] for box in ndi.find_objects(labels) if box])


@pytest.mark.parametrize(
    ("shape", "n", "sigma", "block"),
    [((96, 80), 26, 4.0, 16), ((20, 40, 44), 14, 3.0, (8, 16, 16))],
)
def test_instance_labels_equal_whole_image(tmp_path, shape, n, sigma, block):
    wf = _instance(len(shape))
    image = _blobs(shape, n, sigma, seed=len(shape))
    truth = _by_first_voxel(wf.predict(image))
    extents = _extents(truth)
    # the case of the issue: blocks smaller than twice the object size, objects that touch
    assert len(extents) >= 8 and np.all(np.asarray(block) < 2 * extents.max(0))
    touching = ndi.label(truth > 0)[1] < truth.max()
    assert touching
    dest = tmp_path / "cells.ome.zarr"
    report = predict_blockwise(wf, image, dest, client="threads", block_shape=block,
                               object_halo=int(extents.max()) + 4)  # fmt: skip
    assert report.labels == "instance" and report.n_objects == truth.max()
    labels, meta = read_labels(dest, "instance", lazy=False)
    assert meta.axes == "ZYX"[-len(shape) :]
    assert np.array_equal(labels, truth)  # identical after relabelling by first voxel
    assert report.block_shape == tuple(np.broadcast_to(block, len(shape)))
    b = np.broadcast_to(block, len(shape))
    crossing = [any(s.start // k != (s.stop - 1) // k for s, k in zip(box, b))
                for box in ndi.find_objects(truth)]  # fmt: skip
    assert sum(crossing) >= 4  # objects really cross block faces


def test_instance_default_halo_from_object_size_and_label_name(tmp_path):
    wf = _instance(2, object_size=120.0)  # diameter 12.4 -> halo 38
    image = _blobs((64, 64), 10, 4.0, seed=5)
    dest = tmp_path / "a.ome.zarr"
    report = predict_blockwise(wf, image, dest, client="threads", block_shape=16,
                               label_name="nuclei", levels=2)  # fmt: skip
    labels, _ = read_labels(dest, "nuclei", lazy=False)
    assert report.labels == "nuclei"
    assert np.array_equal(labels, _by_first_voxel(wf.predict(image)))
    maps, _ = read_image(dest, lazy=False)
    assert maps.shape == (3, 64, 64)


def test_instance_halo_too_small_raises_then_resumes(tmp_path):
    wf = _instance(2)
    image = _blobs((64, 64), 10, 4.0, seed=5)
    dest = tmp_path / "x.ome.zarr"
    with pytest.raises(DataError, match=r"object_halo=\(3, 3\).*pass a larger object_halo"):
        predict_blockwise(wf, image, dest, client="threads", block_shape=16, object_halo=3)
    steps = []
    for item in iter_predict_blockwise(wf, image, dest, client="threads", block_shape=16,
                                       object_halo=30, resume=True):  # fmt: skip
        steps.append(item)
    predicted = [p for p in steps if getattr(p, "stage", "") == "predict"]
    assert [(p.done, p.total) for p in predicted] == [(16, 16)]  # maps kept, not predicted again
    labels, _ = read_labels(dest, "instance", lazy=False)
    assert np.array_equal(labels, _by_first_voxel(wf.predict(image)))


def test_instance_labels_resume_keeps_decoded_blocks(tmp_path):
    wf = _instance(2)
    image = _blobs((64, 64), 10, 4.0, seed=5)
    dest = tmp_path / "r.ome.zarr"
    gen = iter_predict_blockwise(wf, image, dest, client="threads", block_shape=16,
                                 object_halo=30)  # fmt: skip
    for item in gen:  # stop after 6 of the 16 label blocks are decoded (a cancel button)
        if getattr(item, "stage", "") == "labels (segment)" and item.done == 6:
            gen.close()
            break
    segmented = [p.done for p in iter_predict_blockwise(
        wf, image, dest, client="threads", block_shape=16, object_halo=30, resume=True)
        if getattr(p, "stage", "") == "labels (segment)"]  # fmt: skip
    assert segmented[0] >= 6 and segmented[-1] == 16  # started past the decoded blocks
    assert len(segmented) <= 16 - 6 + 1
    labels, _ = read_labels(dest, "instance", lazy=False)
    assert np.array_equal(labels, _by_first_voxel(wf.predict(image)))


@pytest.mark.parametrize(
    ("shape", "sigma", "block"), [((90, 70), 2.0, 16), ((16, 36, 40), 3.0, (8, 12, 12))]
)
def test_points_equal_whole_image(tmp_path, shape, sigma, block):
    wf = _detector(len(shape))
    image = _blobs(shape, 18, sigma, seed=7)
    points, classes, scores = wf.predict(image)
    assert len(points) >= 8
    dest = tmp_path / "spots.ome.zarr"
    report = predict_blockwise(wf, image, dest, client="threads", block_shape=block)
    assert report.points == tmp_path / "spots_points.csv" and report.n_objects == len(points)
    got, got_classes = read_points_csv(report.points)
    assert np.allclose(got, points, atol=1e-9)  # same points, same order
    assert np.array_equal(got_classes, classes)
    header = report.points.read_text().splitlines()[0].split(",")
    axes = list("zyx"[-len(shape) :])
    assert header == [*axes, "class", "score", *(f"{a}_pixel" for a in axes)]
    table = np.loadtxt(report.points, delimiter=",", skiprows=1, ndmin=2)
    np.testing.assert_allclose(table[:, len(shape) + 1], scores, rtol=1e-6)
    np.testing.assert_allclose(table[:, -len(shape) :], table[:, : len(shape)])  # spacing 1


def test_points_physical_columns_use_spacing(tmp_path):
    from biakit.io import ImageMeta, write_image

    wf = _detector(2)
    image = _blobs((48, 40), 6, 2.0, seed=3)
    src = tmp_path / "in.ome.zarr"
    write_image(src, image, ImageMeta("YX", (0.5, 0.25), unit="micrometer"))
    report = predict_blockwise(wf, src, tmp_path / "o.ome.zarr", client="threads", block_shape=16)
    table = np.loadtxt(report.points, delimiter=",", skiprows=1, ndmin=2)
    assert len(table) == len(wf.predict(image)[0]) > 0
    np.testing.assert_allclose(table[:, 4:], table[:, :2] * [0.5, 0.25])


def test_existing_point_table_is_refused(tmp_path):
    wf = _detector(2)
    (tmp_path / "s_points.csv").write_text("y,x\n")
    with pytest.raises(ImageWriteError, match=r"s_points\.csv: point table exists"):
        predict_blockwise(wf, np.zeros((16, 16)), tmp_path / "s.ome.zarr", client="threads")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"object_halo": (4, -1)}, r"object_halo: expected one integer >= 0 or 2 .* got \(4, -1\)"),
        ({"object_halo": 2.5}, "object_halo: expected one integer >= 0 or 2"),
        ({"label_name": "a/b"}, "label_name: expected a folder name .* got 'a/b'"),
    ],
)
def test_bad_instance_options(tmp_path, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        predict_blockwise(_instance(2), np.zeros((16, 16)), tmp_path / "x.ome.zarr",
                          client="threads", **kwargs)  # fmt: skip
    assert not list(tmp_path.iterdir())  # checked before anything is written


def test_instance_options_refused_for_other_tasks(tmp_path):
    with pytest.raises(ParameterError, match=r"object_halo applies to instance .* 'detection'"):
        predict_blockwise(_detector(2), np.zeros((16, 16)), tmp_path / "x.ome.zarr",
                          object_halo=8)  # fmt: skip


def test_cli_predict_writes_instance_labels_and_points(tmp_path, capsys):
    from biakit.cli import main
    from biakit.io import ImageMeta, write_image

    image = _blobs((64, 56), 12, 3.0, seed=4)
    write_image(tmp_path / "big.ome.zarr", image, ImageMeta("YX"))
    inst, det = _instance(2, object_size=60.0), _detector(2)
    inst.save(tmp_path / "inst")
    det.save(tmp_path / "det")
    for model in ("inst", "det"):
        out = str(tmp_path / f"out-{model}")
        args = ["predict", str(tmp_path / model), "-i", str(tmp_path / "big.ome.zarr"), "-o", out,
                "--scheduler", "threads", "--block-size", "16"]  # fmt: skip
        assert main(args) == 0, capsys.readouterr().err
    labels, _ = read_labels(tmp_path / "out-inst" / "big.ome.zarr", "instance", lazy=False)
    assert labels.max() > 3 and np.array_equal(labels, _by_first_voxel(inst.predict(image)))
    points, _ = read_points_csv(tmp_path / "out-det" / "big_points.csv")
    assert len(points) > 3 and np.allclose(points, det.predict(image)[0])


def test_cli_object_halo_option(tmp_path, capsys):
    from biakit.cli import main
    from biakit.io import ImageMeta, write_image

    image = _blobs((64, 56), 12, 3.0, seed=4)
    write_image(tmp_path / "big.ome.zarr", image, ImageMeta("YX"))
    inst = _instance(2, object_size=60.0)
    inst.save(tmp_path / "inst")
    args = ["predict", str(tmp_path / "inst"), "-i", str(tmp_path / "big.ome.zarr"),
            "-o", str(tmp_path / "out"), "--scheduler", "threads", "--block-size", "16",
            "--object-halo", "24"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    labels, _ = read_labels(tmp_path / "out" / "big.ome.zarr", "instance", lazy=False)
    assert np.array_equal(labels, _by_first_voxel(inst.predict(image)))
    bad = [*args[:-1], "0"]
    bad[bad.index("-o") + 1] = str(tmp_path / "out2")
    assert main(bad) == 2
    assert "object_halo" in capsys.readouterr().err


def test_time_lapse_labels_and_points_frame_by_frame(tmp_path):
    movie = np.stack([_blobs((48, 40), 9, 3.0, seed=s) * g for s, g in ((1, 1.0), (2, 3.0))])
    inst, det = _instance(2), _detector(2)
    report = predict_blockwise(inst, movie, tmp_path / "c.ome.zarr", axes="TYX",
                               client="threads", block_shape=16, object_halo=24)  # fmt: skip
    labels, meta = read_labels(tmp_path / "c.ome.zarr", "instance", lazy=False)
    truth = [_by_first_voxel(inst.predict(frame)) for frame in movie]
    assert meta.axes == "TYX" and report.n_frames == 2
    assert all(np.array_equal(labels[t], truth[t]) for t in range(2))  # numbered per frame
    assert report.n_objects == sum(int(t.max()) for t in truth) and truth[1].max() > 3
    report = predict_blockwise(det, movie, tmp_path / "s.ome.zarr", axes="TYX",
                               client="threads", block_shape=16)  # fmt: skip
    header = report.points.read_text().splitlines()[0].split(",")
    assert header == ["frame", "y", "x", "class", "score", "y_pixel", "x_pixel"]
    table = np.loadtxt(report.points, delimiter=",", skiprows=1, ndmin=2)
    for t, frame in enumerate(movie):
        points, classes, _ = det.predict(frame)
        mine = table[table[:, 0] == t]
        assert len(points) > 3 and np.allclose(mine[:, 1:3], points, atol=1e-9)
        assert np.array_equal(mine[:, 3], classes)
    assert report.n_objects == len(table)
