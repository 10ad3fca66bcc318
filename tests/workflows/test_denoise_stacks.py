"""A 2-D denoising model on Z-stack files: trained on their planes, restored plane by plane."""

import numpy as np
import pytest

from biakit.cli import main
from biakit.data import noisy_clean_pair
from biakit.errors import DataError
from biakit.io import ImageMeta, read_channel_first, read_image, write_image
from biakit.workflows import DenoiseConfig, Denoiser

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _stack(depth=3, seed=0):
    """A noisy Z-stack whose planes differ in brightness (each is normalised on its own)."""
    planes = [noisy_clean_pair((40, 44), noise="gaussian", level=0.2, seed=seed + z)[0]
              for z in range(depth)]  # fmt: skip
    return np.stack([(z + 1) * 100.0 + 50.0 * p for z, p in enumerate(planes)]).astype(np.float32)


@pytest.fixture(scope="module")
def n2v(denoise_tiny):
    den = Denoiser(DenoiseConfig(**denoise_tiny))
    den.train([_stack()[0]])
    return den


def test_a_stack_is_restored_plane_by_plane(n2v, tmp_path):
    stack = _stack(seed=5)
    write_image(tmp_path / "in" / "s.tif", stack, ImageMeta("ZYX", (2.0, 0.5, 0.5), unit="micron"))
    report = n2v.predict_to_disk(tmp_path / "in", tmp_path / "out")
    assert not report.failures
    out, meta = read_image(tmp_path / "out" / "s_denoised.tif")
    assert out.shape == stack.shape and meta.axes == "ZYX"
    assert meta.spacing == pytest.approx((2.0, 0.5, 0.5)) and meta.unit == "micrometer"
    for z in range(len(stack)):  # each plane exactly as the 2-D image would be restored
        np.testing.assert_allclose(out[z], n2v.predict(stack[z]), rtol=1e-6, atol=1e-3)
    assert np.all(np.diff(out.mean(axis=(1, 2))) > 50)  # each plane keeps its own brightness


def test_a_time_lapse_of_stacks(n2v, tmp_path):
    movie = np.stack([_stack(2, seed=t) for t in range(2)])
    write_image(tmp_path / "in" / "m.tif", movie, ImageMeta("TZYX", (5.0, 1.0, 0.5, 0.5)))
    assert not n2v.predict_to_disk(tmp_path / "in", tmp_path / "out").failures
    out, meta = read_image(tmp_path / "out" / "m_denoised.tif")
    assert out.shape == movie.shape and meta.axes == "TZYX"
    np.testing.assert_allclose(out[1, 0], n2v.predict(movie[1, 0]), rtol=1e-6, atol=1e-3)


def test_stacks_only_where_asked(tmp_path):
    write_image(tmp_path / "s.tif", _stack(), ImageMeta("ZYX"))
    with pytest.raises(DataError, match=r"3-D image .* 2-D images are expected"):
        read_channel_first(tmp_path / "s.tif", ndim=2)  # segmentation: no planes
    write_image(tmp_path / "p.tif", _stack()[0], ImageMeta("YX"))
    with pytest.raises(DataError, match=r"2-D image .* 3-D images are expected"):
        read_channel_first(tmp_path / "p.tif", ndim=3, planes=True)


def test_cli_trains_a_2d_model_on_the_planes_of_a_stack(tmp_path, capsys, denoise_tiny):
    import yaml

    write_image(tmp_path / "noisy" / "s.tif", _stack(4), ImageMeta("ZYX"))
    config = tmp_path / "n2v.yaml"
    tiny = {**denoise_tiny, "patch_shape": list(denoise_tiny["patch_shape"])}
    config.write_text(yaml.safe_dump({"task": "denoise", "data": {"images": "noisy"},
                                      "output": "model", **tiny}))  # fmt: skip
    assert main(["train", str(config)]) == 0
    captured = capsys.readouterr()
    assert "training on 4 image(s)" in captured.out
    assert "a Z-stack of 4 planes; the 2-D model trains on its planes" in captured.err
    assert main(["predict", str(tmp_path / "model"), "-i", str(tmp_path / "noisy"),
                 "-o", str(tmp_path / "pred")]) == 0  # fmt: skip
    out, meta = read_image(tmp_path / "pred" / "s_denoised.tif")
    assert out.shape == (4, 40, 44) and meta.axes == "ZYX"


@pytest.mark.parametrize("amp", ["none", "auto"])
def test_block_wise_an_ome_zarr_stack_is_restored_plane_by_plane(n2v, tmp_path, amp):
    from biakit.distributed import predict_blockwise

    stack = _stack(seed=7)  # planes of other brightness: each needs its own statistics
    src = tmp_path / "s.ome.zarr"
    write_image(src, stack, ImageMeta("ZYX", (2.0, 0.5, 0.5), unit="micron"))
    dest = tmp_path / f"s_{amp}.ome.zarr"
    report = predict_blockwise(n2v, src, dest, client="threads", block_shape=(16, 16), amp=amp)
    assert report.n_planes == 3 and report.n_frames is None and report.n_blocks == 3 * 9
    maps, meta = read_image(dest, lazy=False)
    assert maps.shape == (1, *stack.shape) and meta.axes == "CZYX"  # NGFF: c before z
    assert meta.spacing == pytest.approx((1.0, 2.0, 0.5, 0.5)) and meta.unit == "micrometer"
    tol = 1e-4 if amp == "none" else 0.05  # bf16: other tiles, other roundings
    for z in range(len(stack)):  # as the planes of a stack read whole (predict_to_disk)
        want = n2v.predict(stack[z], amp=amp)  # the four turns, on any tile
        assert np.abs(maps[0, z] - want).max() <= tol * np.ptp(want)


def test_cli_restores_an_ome_zarr_stack_block_wise(n2v, tmp_path, capsys):
    n2v.save(tmp_path / "model")
    write_image(tmp_path / "in" / "s.ome.zarr", _stack(seed=3), ImageMeta("ZYX", (2.0, 0.5, 0.5)))
    assert main(["predict", str(tmp_path / "model"), "-i", str(tmp_path / "in" / "s.ome.zarr"),
                 "-o", str(tmp_path / "pred"), "--scheduler", "threads"]) == 0  # fmt: skip
    assert "in 3 plane(s)" in capsys.readouterr().out
    maps, meta = read_image(tmp_path / "pred" / "s.ome.zarr", lazy=False)
    assert maps.shape == (1, 3, 40, 44) and meta.axes == "CZYX"


def test_block_wise_time_lapses_of_stacks_get_a_hint(n2v, tmp_path):
    from biakit.distributed import predict_blockwise

    movie = np.stack([_stack(2), _stack(2, seed=4)])
    with pytest.raises(DataError, match=r"plane by plane but not a time-lapse of Z-stacks"):
        predict_blockwise(n2v, movie, tmp_path / "x.ome.zarr", axes="TZYX")
