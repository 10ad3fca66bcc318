import json

import numpy as np
import pytest

from biakit.data import synthetic_nuclei
from biakit.workflows import InstanceConfig, InstanceSegmenter, load_model

pytest.importorskip("torch")


def _data(seeds, shape=(96, 96), **kw):
    samples = [synthetic_nuclei(shape, n_objects=10, touching=0.5, seed=s, **kw) for s in seeds]
    return [s.image for s in samples], [s.labels for s in samples]


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_instance_segmenter_learns_touching_nuclei(tmp_path):
    images, labels = _data(range(5))
    cfg = InstanceConfig(
        patch_shape=(64, 64),
        samples_per_epoch=64,
        model={"depth": 2, "base_filters": 16},
        train={"epochs": 40, "batch_size": 8, "lr": 3e-3},
    )
    seg = InstanceSegmenter(cfg)
    seg.train(images, labels, output_dir=tmp_path / "m")
    test_x, test_y = _data(range(100, 103))
    scores = seg.evaluate(test_x, test_y)
    table = scores.summary.set_index("thresh")
    assert table.loc[0.5, "f1"] >= 0.8, table
    assert scores.metrics[0].thresh == 0.5 and scores.metrics[0].f1 == table.loc[0.5, "f1"]
    assert len(scores.per_image) == 3 * 10 and set(scores.per_image["image"]) == {0, 1, 2}
    # decoding thresholds were tuned and saved in thresholds.json; the folder reloads identically
    tuned = json.loads((tmp_path / "m" / "thresholds.json").read_text())
    assert tuned["fg_threshold"] == seg.decode_params.fg_threshold
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, InstanceSegmenter)
    np.testing.assert_array_equal(loaded.predict(test_x[0]), seg.predict(test_x[0]))


def test_instance_3d_runs_end_to_end(tmp_path):
    images, labels = _data([1, 2], shape=(16, 48, 48), spacing=(2.0, 1.0, 1.0))
    cfg = InstanceConfig(
        patch_shape=(16, 32, 32),
        samples_per_epoch=4,
        spacing=(2.0, 1.0, 1.0),
        model={"depth": 2, "base_filters": 4, "z_pool": (False, True)},
        train={"epochs": 1, "batch_size": 2},
    )
    seg = InstanceSegmenter(cfg)
    seg.train(images, labels, output_dir=None)
    out = seg.predict(images[0])
    assert out.shape == (16, 48, 48) and out.dtype == np.int32
    assert seg.predict_maps(images[0]).shape == (3, 16, 48, 48)


def test_instance_errors():
    seg = InstanceSegmenter(InstanceConfig(patch_shape=(32, 32), model={"depth": 2}))
    with pytest.raises(RuntimeError, match=r"InstanceSegmenter is not trained"):
        seg.predict(np.zeros((32, 32)))
    with pytest.raises(ValueError, match=r"got 1 image\(s\) and 2 label image\(s\)"):
        seg.train([np.zeros((32, 32))], [np.zeros((32, 32)), np.zeros((32, 32))], output_dir=None)
    with pytest.raises(ValueError, match=r"labels\[0\] have negative values"):
        seg.train([np.zeros((32, 32))], [np.full((32, 32), -1)], output_dir=None)


def test_decoding_grid_scales_size_filters_to_the_objects():
    from biakit.workflows.instance import decode_grid, typical_object_size

    labels = np.zeros((20, 20), np.int32)
    labels[:10, :10], labels[12:16, 12:17], labels[0, 19] = 7, 3, 9  # sizes 100, 20, 1
    assert typical_object_size([labels]) == 20.0
    assert typical_object_size([np.zeros((4, 4), int)]) is None
    grid = decode_grid(440.0, min_size=10)
    assert grid["min_size"] == (10, 44) and grid["min_seed_size"] == (0, 22)
    assert decode_grid(440.0, min_size=60)["min_size"] == (60,)  # the config's floor holds
    assert decode_grid(None, min_size=10) == {**decode_grid(None, 10), "min_size": (10,)}
    assert "min_seed_size" not in decode_grid(None, min_size=10)
