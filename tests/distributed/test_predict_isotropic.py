"""Block-wise isotropic restoration equals the workflow's whole-volume ``predict``.

The model is a tiny EDSR-lite isotropic restorer trained for two steps. The stacks'
intensity range changes along ``y`` and ``x``, so every XZ / YZ slice has its own
normalisation statistics (the workflow normalises slice by slice): a block-wise run
using statistics of the whole volume, or of its blocks, would differ.
"""

import numpy as np
import pytest

from biakit.distributed import iter_predict_blockwise, predict_blockwise
from biakit.errors import DataError
from biakit.io import ImageMeta, read_image, write_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def restorer():
    import torch

    from biakit.workflows import IsotropicConfig, IsotropicRestorer

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    cfg = IsotropicConfig(
        factor=2, patch_shape=(8, 8), samples_per_epoch=4, val_fraction=0.0,
        model={"n_features": 4, "n_blocks": 1},
        train={"epochs": 1, "batch_size": 2, "amp": "none", "device": "cpu"},
    )  # fmt: skip
    iso = IsotropicRestorer(cfg)
    iso.train([_stack((6, 16, 16), seed=9)])  # 4 patches in batches of 2: two steps
    yield iso
    torch.set_num_threads(before)


def _stack(shape, seed):
    """Random stack whose range grows along y and x (slice statistics all differ)."""
    rng = np.random.default_rng(seed)
    _, y, x = shape
    gain = 1.0 + np.arange(y)[:, None] / 4 + np.arange(x)[None, :] / 7
    return (rng.random(shape) * gain + np.arange(x)[None, None, :] / 3).astype(np.float32)


@pytest.mark.parametrize("block", [(3, 7, 5), 4, (2, 20, 6), (6, 32, 32)])
def test_isotropic_maps_equal_whole_volume(tmp_path, restorer, block):
    stack = _stack((6, 20, 18), seed=1)
    ref = restorer.predict_maps(stack)
    assert ref.shape == (1, 12, 20, 18) and ref.std() > 0.1
    dest = tmp_path / "iso.ome.zarr"
    report = predict_blockwise(restorer, stack, dest, client="threads", block_shape=block)
    assert report.halo == (6, 6, 6)  # EDSR-lite: n_convs + 1 along both axes of a slice
    maps, meta = read_image(dest, lazy=False)
    assert maps.shape == ref.shape and meta.axes == "CZYX"
    assert np.abs(maps - ref).max() <= 1e-5


def test_isotropic_from_ome_zarr_keeps_physical_spacing(tmp_path, restorer):
    stack = _stack((5, 14, 12), seed=2)
    src = tmp_path / "stack.ome.zarr"
    write_image(src, stack, ImageMeta("ZYX", (2.0, 0.5, 0.5), unit="micrometer"))
    steps = list(iter_predict_blockwise(restorer, src, tmp_path / "o.ome.zarr",
                                        client="threads", block_shape=(2, 8, 8)))  # fmt: skip
    stages = {s.stage for s in steps[:-1]}
    assert {"statistics (XZ)", "statistics (YZ)", "predict"} <= stages
    maps, meta = read_image(tmp_path / "o.ome.zarr", lazy=False)
    assert meta.spacing == (1.0, 1.0, 0.5, 0.5) and meta.unit == "micrometer"
    assert np.abs(maps - restorer.predict_maps(stack)).max() <= 1e-5


def test_isotropic_time_lapse_frame_by_frame(tmp_path, restorer):
    movie = np.stack([_stack((4, 10, 12), seed=3), 5 * _stack((4, 10, 12), seed=4)])
    ref = np.stack([restorer.predict_maps(frame) for frame in movie])
    dest = tmp_path / "m.ome.zarr"
    report = predict_blockwise(restorer, movie, dest, axes="TZYX", client="threads",
                               block_shape=(3, 6, 5))  # fmt: skip
    maps, meta = read_image(dest, lazy=False)
    assert report.n_frames == 2 and meta.axes == "TCZYX" and maps.shape == (2, 1, 8, 10, 12)
    assert np.abs(maps - ref).max() <= 1e-5


def test_isotropic_needs_a_stack(tmp_path, restorer):
    with pytest.raises(DataError, match=r"image has 2 spatial axes .* isotropic model takes 3D"):
        predict_blockwise(restorer, np.zeros((16, 16), np.float32), tmp_path / "x.ome.zarr")
    assert not list(tmp_path.iterdir())  # refused before anything is written
