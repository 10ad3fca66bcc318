"""Block-wise prediction equals whole-image prediction: tiny U-Nets, pixel classifiers."""

import numpy as np
import pytest
import torch

from biakit.distributed import predict_blockwise
from biakit.errors import ParameterError
from biakit.io import read_image, read_labels


def _semantic(ndim):
    from biakit.nn.models import build_network
    from biakit.workflows import SemanticConfig, SemanticSegmenter

    cfg = SemanticConfig(patch_shape=(16,) * ndim, model={"ndim": ndim, "depth": 2,
                         "base_filters": 2}, train={"amp": "none", "device": "cpu"})  # fmt: skip
    wf = SemanticSegmenter(cfg)
    wf.network_config = cfg.network_config(1)
    torch.manual_seed(0)
    wf.model = build_network(wf.architecture, wf.network_config).eval()
    return wf


@pytest.mark.parametrize("shape", [(50, 62), (12, 26, 30)])
def test_unet_maps_equal_whole_image(tmp_path, shape):
    wf = _semantic(len(shape))
    image = np.random.default_rng(1).random(shape).astype(np.float32)
    whole_tile = tuple(-(-n // 4) * 4 for n in shape)  # one tile: the whole (padded) image
    ref = wf.predict_maps(image, tile_shape=whole_tile, blending="none", device="cpu", amp="none")
    dest = tmp_path / "maps.ome.zarr"
    report = predict_blockwise(wf, image, dest, client="threads", block_shape=8)
    assert report.halo == wf.network_config.halo and 8 < 2 * report.halo[0]
    maps, meta = read_image(dest, lazy=False)
    assert maps.shape == (2, *shape) and meta.axes == "C" + "ZYX"[-len(shape) :]
    assert np.abs(maps - ref).max() <= 1e-5
    classes, _ = read_labels(dest, "classes", lazy=False)
    assert np.array_equal(classes, np.argmax(ref, axis=0))


@pytest.mark.parametrize("shape", [(40, 44), (10, 22, 24)])
def test_pixel_classifier_equals_whole_image(tmp_path, shape):
    from biakit.pixel import PixelClassifier

    rng = np.random.default_rng(2)
    image = rng.random(shape)
    image[tuple(slice(n // 4, 3 * n // 4) for n in shape)] += 1.0
    scribbles = np.zeros(shape, np.uint8)
    scribbles[(0,) * (len(shape) - 1)] = 1
    scribbles[tuple(n // 2 for n in shape[:-1])] = 2
    clf = PixelClassifier("fast", n_estimators=4, n_jobs=1).fit(image, scribbles)
    dest = tmp_path / "p.ome.zarr"
    predict_blockwise(clf, image, dest, client="threads", block_shape=8, uncertainty=True)
    maps, _ = read_image(dest, lazy=False)
    assert np.abs(maps - clf.predict_maps(image)).max() <= 1e-6
    labels, _ = read_labels(dest, "classes", lazy=False)
    assert np.array_equal(labels, clf.predict(image))
    unc = np.asarray(read_image(dest / "uncertainty", lazy=False)[0])[0]
    np.testing.assert_allclose(unc, clf.uncertainty(image), atol=1e-6)


def test_unfitted_model_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="model: expected a fitted PixelClassifier"):
        predict_blockwise(object(), np.zeros((8, 8)), tmp_path / "x.ome.zarr")
