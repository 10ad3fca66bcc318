"""Time-lapse inputs: block-wise prediction equals predicting each frame whole.

Frames differ in intensity range, so per-frame normalisation matters (statistics of
the whole movie would give other maps). Truth: ``workflow.predict_maps(movie[t])``
(one tile: the whole frame), stacked.
"""

import numpy as np
import pytest
import torch

from biakit.distributed import open_source, predict_blockwise
from biakit.errors import DataError, ParameterError
from biakit.io import ImageMeta, read_image, read_labels, write_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _network(wf, cfg, in_channels=1):
    from biakit.nn.models import build_network

    wf.network_config = cfg.network_config(in_channels)
    torch.manual_seed(0)
    wf.model = build_network(wf.architecture, wf.network_config).eval()
    return wf


def _unet_cfg(config_class, ndim, **extra):
    return config_class(patch_shape=(16,) * ndim, model={"ndim": ndim, "depth": 2,
                        "base_filters": 2}, train={"amp": "none", "device": "cpu"},
                        **extra)  # fmt: skip


def _semantic(ndim):
    from biakit.workflows import SemanticConfig, SemanticSegmenter

    cfg = _unet_cfg(SemanticConfig, ndim)
    return _network(SemanticSegmenter(cfg), cfg)


def _movie(shape, seed):
    """Frames of random noise with gains 1, 5, 20, ... (per-frame statistics differ)."""
    rng = np.random.default_rng(seed)
    gains = 5.0 ** np.arange(shape[0])
    return (rng.random(shape) * gains.reshape(-1, *(1,) * (len(shape) - 1))).astype(np.float32)


def _whole(shape, divisor=4):
    return tuple(-(-n // divisor) * divisor for n in shape)


@pytest.mark.parametrize(("shape", "block"), [((3, 30, 26), 8), ((2, 10, 20, 18), (4, 8, 12))])
def test_semantic_time_lapse_equals_each_frame(tmp_path, shape, block):
    ndim = len(shape) - 1
    wf = _semantic(ndim)
    movie = _movie(shape, seed=1)
    ref = np.stack([wf.predict_maps(f, tile_shape=_whole(f.shape), blending="none", device="cpu",
                                    amp="none") for f in movie])  # fmt: skip
    axes = "TYX" if ndim == 2 else "TZYX"
    dest = tmp_path / "m.ome.zarr"
    report = predict_blockwise(wf, movie, dest, axes=axes, client="threads", block_shape=block,
                               levels=2)  # fmt: skip
    maps, meta = read_image(dest, lazy=False)
    assert report.n_frames == shape[0] and meta.axes == "TC" + axes[1:]
    assert maps.shape == (shape[0], 2, *shape[1:])
    assert np.abs(maps - ref).max() <= 1e-5
    first, last = (wf.config.normalizer.stats(movie[[i]]) for i in (0, -1))
    assert last.scale[0] > 4 * first.scale[0]  # frames normalised apart, as predicted apart
    classes, lmeta = read_labels(dest, "classes", lazy=False)
    assert lmeta.axes == axes and np.array_equal(classes, np.argmax(ref, axis=1))
    level1, _ = read_image(dest, lazy=False, level=1)
    assert level1.shape[:2] == (shape[0], 2)  # levels halve Y and X only, never T


def test_pixel_classifier_time_lapse(tmp_path):
    from biakit.pixel import PixelClassifier

    rng = np.random.default_rng(2)
    frame = rng.random((24, 28))
    frame[6:18, 8:20] += 1.0
    scribbles = np.zeros(frame.shape, np.uint8)
    scribbles[0] = 1
    scribbles[12, 14] = 2
    clf = PixelClassifier("fast", n_estimators=4, n_jobs=1).fit(frame, scribbles)
    movie = np.stack([frame, frame[::-1] * 0.7, np.roll(frame, 5, axis=1)])
    dest = tmp_path / "p.ome.zarr"
    report = predict_blockwise(clf, movie, dest, axes="TYX", client="threads", block_shape=8,
                               uncertainty=True)  # fmt: skip
    assert report.n_blocks == 3 * 12
    maps, _ = read_image(dest, lazy=False)
    ref = np.stack([clf.predict_maps(f) for f in movie])
    assert maps.shape == ref.shape and np.abs(maps - ref).max() <= 1e-6
    labels, _ = read_labels(dest, "classes", lazy=False)
    assert np.array_equal(labels, np.stack([clf.predict(f) for f in movie]))
    unc = np.asarray(read_image(dest / "uncertainty", lazy=False)[0])
    assert unc.shape == (3, 1, 24, 28)
    np.testing.assert_allclose(unc[:, 0], np.stack([clf.uncertainty(f) for f in movie]), atol=1e-6)


def test_denoise_time_lapse(tmp_path):
    from biakit.nn.datasets import NormStats
    from biakit.workflows import DenoiseConfig, Denoiser

    cfg = _unet_cfg(DenoiseConfig, 2, algorithm="care")
    wf = _network(Denoiser(cfg), cfg)
    wf.training = {"normalization": {"input": NormStats((0.5,), (2.0,)).to_dict(),
                                     "target": NormStats((1.0,), (3.0,)).to_dict()}}  # fmt: skip
    movie = _movie((2, 22, 26), seed=3)
    ref = np.stack([wf.predict_maps(f, tta=False, tile_shape=_whole(f.shape), blending="none",
                                    device="cpu") for f in movie])  # fmt: skip
    predict_blockwise(wf, movie, tmp_path / "d.ome.zarr", axes="TYX", client="threads",
                      block_shape=(8, 12))  # fmt: skip
    maps, _ = read_image(tmp_path / "d.ome.zarr", lazy=False)
    assert np.abs(maps - ref).max() <= 1e-5


def test_denoise_uses_the_models_own_tta_default(tmp_path):
    from biakit.nn.datasets import NormStats
    from biakit.workflows import DenoiseConfig, Denoiser

    cfg = _unet_cfg(DenoiseConfig, 2, algorithm="n2v")
    assert cfg.resolved_tta  # 2D N2V predicts with test-time augmentation by default
    wf = _network(Denoiser(cfg), cfg)
    wf.training = {"normalization": {"input": NormStats((0.5,), (2.0,)).to_dict(),
                                     "target": NormStats((0.5,), (2.0,)).to_dict()}}  # fmt: skip
    image = _movie((1, 24, 28), seed=5)[0]
    whole = _whole(image.shape)
    with_tta = wf.predict_maps(image, tile_shape=whole, blending="none", device="cpu")
    without = wf.predict_maps(image, tta=False, tile_shape=whole, blending="none", device="cpu")
    assert np.abs(with_tta - without).max() > 1e-3  # the two differ, so the test can tell
    for kwargs, ref in (({}, with_tta), ({"tta": None}, with_tta), ({"tta": False}, without)):
        dest = tmp_path / f"n2v{len(kwargs)}{kwargs.get('tta')}.ome.zarr"
        predict_blockwise(wf, image, dest, client="threads", block_shape=(8, 12), **kwargs)
        maps, _ = read_image(dest, lazy=False)
        assert np.abs(maps[0] - ref).max() <= 1e-5


def test_super_resolution_time_lapse(tmp_path):
    from biakit.workflows import SuperResolutionConfig, SuperResolver

    cfg = SuperResolutionConfig(scale=2, patch_shape=(8, 8), model={"n_features": 4,
                                "n_blocks": 1}, train={"amp": "none", "device": "cpu"})  # fmt: skip
    wf = _network(SuperResolver(cfg), cfg)
    movie = _movie((2, 14, 12), seed=4)
    ref = np.stack([wf.predict_maps(f, device="cpu") for f in movie])
    dest = tmp_path / "sr.ome.zarr"
    predict_blockwise(wf, movie, dest, axes="TYX", client="threads", block_shape=5, tta=True)
    maps, meta = read_image(dest, lazy=False)
    assert maps.shape == (2, 1, 28, 24) and meta.spacing[-2:] == (0.5, 0.5)
    assert np.abs(maps - ref).max() <= 1e-5


def test_time_lapse_from_ome_zarr_file(tmp_path):
    wf = _semantic(2)
    movie = _movie((2, 20, 16), seed=5)
    src = tmp_path / "movie.ome.zarr"
    write_image(src, movie, ImageMeta("TYX", (30.0, 0.5, 0.5), unit="micrometer"))
    predict_blockwise(wf, src, tmp_path / "o.ome.zarr", client="threads", block_shape=8)
    maps, meta = read_image(tmp_path / "o.ome.zarr", lazy=False)
    assert meta.axes == "TCYX" and meta.spacing == (30.0, 1.0, 0.5, 0.5)
    ref = np.stack([wf.predict_maps(f, tile_shape=(20, 16), blending="none", device="cpu",
                                    amp="none") for f in movie])  # fmt: skip
    assert np.abs(maps - ref).max() <= 1e-5


def test_open_source_keeps_time_only_when_asked():
    movie = np.zeros((3, 4, 5))
    assert open_source(movie, axes="TYX", time=True).axes == "TYX"
    assert open_source(movie[:1], axes="TYX", time=True).axes == "YX"  # one frame: dropped
    with pytest.raises(DataError, match="a time-lapse with 3 frames"):
        open_source(movie, axes="TYX")


def test_model_and_image_dimensions_must_agree(tmp_path):
    wf = _semantic(2)
    with pytest.raises(DataError, match=r"3 spatial axes .* semantic model takes 2D .* 'TYX'"):
        predict_blockwise(wf, np.zeros((3, 16, 16), np.float32), tmp_path / "x.ome.zarr")
    assert not list(tmp_path.iterdir())
    with pytest.raises(ParameterError, match="block_shape: expected 2 positive integers"):
        predict_blockwise(wf, np.zeros((3, 16, 16), np.float32), tmp_path / "x.ome.zarr",
                          axes="TYX", block_shape=(4, 4, 4))  # fmt: skip
