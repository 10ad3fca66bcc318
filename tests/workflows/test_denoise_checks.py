"""Checks a denoising run makes of its training images: the noise structure advice."""

import logging

import numpy as np
import pytest
from scipy import ndimage as ndi

from biakit.workflows import DenoiseConfig, Denoiser

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

LOGGER = "biakit.workflows._denoise_checks"


def _striped(axis, seed=0):
    """Noise averaged over 3 pixels along ``axis`` on a smooth image (64 x 64)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:64, :64]
    smooth = np.sin(xx / 9.0) + np.cos(yy / 7.0)
    return (smooth + ndi.uniform_filter1d(rng.normal(size=(64, 64)), 3, axis=axis)).astype("f4")


def _train(cfg, images, caplog):
    caplog.clear()
    den = Denoiser(cfg)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        den.train(images)
    return den, [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_n2v_on_striped_noise_advises_structn2v(denoise_tiny, caplog):
    den, messages = _train(DenoiseConfig(**denoise_tiny), [_striped(-1), _striped(-1, 1)], caplog)
    record = den.training["noise_structure"]
    assert record["axis"] == -1 and record["line"] == 5 and record["correlation"][1] > 0.5
    assert len(messages) == 1
    assert "correlated along X" in messages[0]
    assert "algorithm: structn2v, struct_axis: -1, struct_length: 5" in messages[0]
    # the advice is valid configuration: it trains
    advised = DenoiseConfig(**{**denoise_tiny, "algorithm": "structn2v", "struct_axis": -1,
                               "struct_length": 5})  # fmt: skip
    den, messages = _train(advised, [_striped(-1)], caplog)
    assert messages == [] and den.training["noise_structure"]["axis"] == -1


def test_white_noise_gets_no_advice(denoise_tiny, caplog):
    noisy = np.random.default_rng(3).normal(size=(64, 64)).astype("f4")
    den, messages = _train(DenoiseConfig(**denoise_tiny), [noisy], caplog)
    assert messages == [] and den.training["noise_structure"]["axis"] is None


def test_structn2v_line_along_the_wrong_axis(denoise_tiny, caplog):
    cfg = DenoiseConfig(**{**denoise_tiny, "algorithm": "structn2v", "struct_axis": 1})  # X
    _, messages = _train(cfg, [_striped(-2)], caplog)
    assert len(messages) == 1 and "correlated along Y" in messages[0]
    assert "masks a line along X; use struct_axis: -2" in messages[0]


def test_structn2v_line_too_short(denoise_tiny, caplog):
    """A line shorter than the noise's correlated extent leaves most stripes (see
    benchmarks/bench_structn2v.py: line 5 on 9 correlated pixels, 22.6 vs 27.7 dB)."""
    cfg = DenoiseConfig(**{**denoise_tiny, "algorithm": "structn2v", "struct_length": 3})
    _, messages = _train(cfg, [_striped(-1)], caplog)  # spans 5 pixels
    assert len(messages) == 1
    assert "masks 3 pixels, fewer than the 5 it spans; use struct_axis: -1" in messages[0]


def test_supervised_training_is_not_checked(denoise_tiny, caplog):
    noisy, clean = _striped(-1), np.zeros((64, 64), "f4")
    den = Denoiser(DenoiseConfig(**{**denoise_tiny, "algorithm": "care"}))
    den.train([noisy], [clean])
    assert "noise_structure" not in den.training


def test_cli_prints_the_advice(tmp_path, capsys, denoise_tiny):
    import json

    import yaml

    from biakit.cli import main
    from biakit.io import ImageMeta, write_image

    striped = (1000 + 50 * _striped(-1)).astype(np.uint16)  # a 16-bit camera image
    write_image(tmp_path / "noisy" / "a.tif", striped, ImageMeta("YX"))
    config = tmp_path / "n2v.yaml"
    tiny = {**denoise_tiny, "patch_shape": list(denoise_tiny["patch_shape"])}
    config.write_text(yaml.safe_dump({"task": "denoise", "data": {"images": "noisy"},
                                      "output": "model", **tiny}))  # fmt: skip
    assert main(["train", str(config)]) == 0
    err = capsys.readouterr().err
    assert "warning: the noise of the training images is correlated along X" in err
    saved = json.loads((tmp_path / "model" / "model.json").read_text())
    assert saved["training"]["noise_structure"]["axis"] == -1
