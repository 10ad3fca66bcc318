"""Isotropic restoration: lateral slices as training data, XZ/YZ restoration, beating cubic."""

import numpy as np
import pytest

from biakit.data import synthetic_nuclei
from biakit.errors import ConfigError, DataError
from biakit.io import ImageMeta, read_image, write_image
from biakit.nn.datasets import degrade
from biakit.workflows import IsotropicConfig, IsotropicRestorer, load_model, parse_workflow_config
from biakit.workflows.isotropic import _lateral_slices

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _stack_pair(factor=4, size=48, seed=0):
    truth = synthetic_nuclei((size, size, size), n_objects=12, seed=seed).image.astype(np.float32)
    return degrade(truth[None], (factor, 1, 1))[0], truth


def test_lateral_slices_take_both_in_plane_axes():
    stack = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    slices = _lateral_slices([stack], "images")
    assert len(slices) == 4 and slices[0].shape == (1, 3, 4) and slices[1].shape == (1, 4, 3)
    np.testing.assert_array_equal(slices[1][0], stack[0].T)


def test_config_derives_the_axial_factor_from_the_spacing():
    cfg = parse_workflow_config({"task": "isotropic", "spacing": [2.0, 0.52, 0.52]})
    assert cfg.factor == 4 and cfg.model.factors == (4, 1)
    with pytest.raises(ConfigError, match="is \\(nearly\\) isotropic"):
        parse_workflow_config({"task": "isotropic", "spacing": [0.5, 0.5, 0.5]})
    with pytest.raises(ConfigError, match="give the stacks' spacing"):
        parse_workflow_config({"task": "isotropic"})


def test_yaml_without_spacing_reads_it_from_the_stacks(tmp_path):
    from biakit.workflows import load_workflow_config

    stack = np.zeros((6, 16, 16), np.uint16)
    for name in ("a", "b"):
        write_image(tmp_path / "stacks" / f"{name}.tif", stack,
                    ImageMeta("ZYX", spacing=(1.5, 0.5, 0.5), unit="micrometer"))  # fmt: skip
    (tmp_path / "iso.yaml").write_text("task: isotropic\ndata: {high: stacks}\n")
    cfg = load_workflow_config(tmp_path / "iso.yaml")
    assert cfg.spacing == (1.5, 0.5, 0.5) and cfg.factor == 3 and cfg.model.factors == (3, 1)
    (tmp_path / "given.yaml").write_text("task: isotropic\nfactor: 2\ndata: {high: stacks}\n")
    assert load_workflow_config(tmp_path / "given.yaml").factor == 2  # the config wins
    (tmp_path / "wrong.yaml").write_text("task: isotropic\ndata: {images: stacks}\n")
    with pytest.raises(ConfigError, match=r"data\.high: missing \(data has images\)"):
        load_workflow_config(tmp_path / "wrong.yaml")
    # stacks that disagree, or carry no spacing: the file is named and what to give said
    write_image(tmp_path / "stacks" / "c.tif", stack,
                ImageMeta("ZYX", spacing=(2.0, 0.5, 0.5), unit="micrometer"))  # fmt: skip
    with pytest.raises(ConfigError, match=r"iso\.yaml: .*c\.tif: spacing \(2\.0, 0\.5, 0\.5\)"):
        load_workflow_config(tmp_path / "iso.yaml")
    write_image(tmp_path / "stacks" / "c.tif", stack, ImageMeta("ZYX", unit="pixel"),
                overwrite=True)  # fmt: skip
    with pytest.raises(ConfigError, match=r"c\.tif: no Z spacing .*give spacing"):
        load_workflow_config(tmp_path / "iso.yaml")


def test_restores_axial_resolution_better_than_cubic_interpolation(tmp_path):
    low, truth = _stack_pair()
    cfg = IsotropicConfig(
        factor=4, patch_shape=(8, 32), samples_per_epoch=64,
        model={"n_features": 16, "n_blocks": 2},
        train={"epochs": 10, "batch_size": 8, "lr": 2e-3, "device": "cpu", "plot_every": 0},
    )  # fmt: skip
    iso = IsotropicRestorer(cfg)
    iso.train([low])
    restored = iso.predict(low)
    assert restored.shape == truth.shape
    scores = iso.evaluate([low], [truth]).summary.iloc[0]
    assert scores["psnr"] > scores["cubic_psnr"] + 1.0, scores
    # the model folder round trip and the files a user gets
    folder = iso.save(tmp_path / "m")
    write_image(tmp_path / "in" / "s.tif", low, ImageMeta("ZYX", (2.0, 0.5, 0.5)))
    load_model(folder).predict_to_disk(tmp_path / "in", tmp_path / "out")
    out, meta = read_image(tmp_path / "out" / "s_isotropic.tif")
    assert out.shape == truth.shape and meta.spacing == pytest.approx((0.5, 0.5, 0.5))


def test_isotropic_errors():
    iso = IsotropicRestorer(IsotropicConfig(factor=2, patch_shape=(8, 8)))
    with pytest.raises(DataError, match="learns from the stacks alone"):
        iso.train([np.zeros((4, 16, 16))], [np.zeros((8, 16, 16))])
    with pytest.raises(DataError, match=r"images\[0\] has shape \(16, 16\)"):
        iso.train([np.zeros((16, 16))])


def test_time_lapse_of_stacks_restored_frame_by_frame_and_gain_followed(tmp_path):
    low, _ = _stack_pair(factor=2, size=32)
    cfg = IsotropicConfig(
        factor=2, patch_shape=(8, 16), samples_per_epoch=8, model={"n_features": 4, "n_blocks": 1},
        train={"epochs": 1, "batch_size": 4, "device": "cpu", "plot_every": 0, "amp": "none"},
    )  # fmt: skip
    iso = IsotropicRestorer(cfg)
    iso.train([low])
    ref = iso.predict(low).astype(np.float64)
    out = iso.predict(3.0 * low + 100.0).astype(np.float64)  # per-slice statistics
    np.testing.assert_allclose((out - 100.0) / 3.0, ref, atol=1e-4 * np.ptp(ref))
    movie = np.stack([low, 2.0 * low + 10.0])  # (T, Z, Y, X), the second frame brighter
    write_image(tmp_path / "in" / "m.tif", movie, ImageMeta("TZYX", (30.0, 2.0, 0.5, 0.5)))
    iso.save(tmp_path / "model")
    load_model(tmp_path / "model").predict_to_disk(tmp_path / "in", tmp_path / "out")
    restored, meta = read_image(tmp_path / "out" / "m_isotropic.tif")
    assert meta.axes == "TZYX" and restored.shape == (2, *ref.shape)
    assert meta.spacing == pytest.approx((30.0, 1.0, 0.5, 0.5))
    np.testing.assert_allclose(restored[0], ref, atol=1e-4 * np.ptp(ref))
    np.testing.assert_allclose((restored[1] - 10.0) / 2.0, ref, atol=1e-4 * np.ptp(ref))
