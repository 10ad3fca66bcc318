"""Restoration of time-lapses: training on every frame, prediction frame by frame, T kept."""

import numpy as np
import pytest

from biakit.cli import main
from biakit.data import low_high_resolution_pair, noisy_clean_pair
from biakit.io import ImageMeta, read_image, write_image
from biakit.workflows import load_model

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

N2V = """\
task: denoise
algorithm: {algorithm}
data: {{images: noisy{targets}}}
output: model
patch_shape: [32, 32]
samples_per_epoch: 4
mask_fraction: 0.02
model: {{depth: 1, base_filters: 4}}
train: {{epochs: 1, batch_size: 2, plot_every: 0}}
"""


def _movie(n_frames=4, shape=(40, 40), seed=0):
    """Noisy and clean frames of one drifting scene, (T, Y, X) float32."""
    pairs = [noisy_clean_pair(shape, noise="gaussian", level=0.2, seed=seed + t)
             for t in range(n_frames)]  # fmt: skip
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def _write_movie(path, movie, interval=5.0):
    write_image(path, movie, ImageMeta("TYX", (interval, 0.5, 0.5), unit="micron"))


def test_n2v_trains_on_the_frames_and_restores_the_movie_frame_by_frame(tmp_path, capsys):
    noisy, _ = _movie()
    _write_movie(tmp_path / "noisy" / "movie.tif", noisy)
    (tmp_path / "n2v.yaml").write_text(N2V.format(algorithm="n2v", targets=""))
    assert main(["train", str(tmp_path / "n2v.yaml")]) == 0
    assert "training on 4 image(s)" in capsys.readouterr().out  # one per frame
    pred = tmp_path / "pred"
    code = main(["predict", str(tmp_path / "model"), "-i", str(tmp_path / "noisy"),
                 "-o", str(pred)])  # fmt: skip
    assert code == 0
    out, meta = read_image(pred / "movie_denoised.tif")
    assert out.shape == noisy.shape and meta.axes == "TYX"
    assert meta.spacing == pytest.approx((5.0, 0.5, 0.5)) and meta.unit in ("micron", "micrometer")
    den = load_model(tmp_path / "model")
    for t in (0, 3):  # each frame as if predicted alone (its own statistics)
        np.testing.assert_allclose(out[t], den.predict(noisy[t]), rtol=1e-5, atol=1e-5)
    assert (pred / "movie_overlay.png").exists()


def test_care_pairs_time_lapses_frame_by_frame_and_checks_their_length(tmp_path, capsys):
    noisy, clean = _movie()
    _write_movie(tmp_path / "noisy" / "movie.tif", noisy)
    _write_movie(tmp_path / "clean" / "movie.tif", clean)
    (tmp_path / "care.yaml").write_text(N2V.format(algorithm="care", targets=", targets: clean"))
    assert main(["train", str(tmp_path / "care.yaml")]) == 0
    assert "training on 4 image(s)" in capsys.readouterr().out
    (tmp_path / "clean" / "movie.tif").unlink()
    _write_movie(tmp_path / "clean" / "movie.tif", clean[:3])
    assert main(["train", str(tmp_path / "care.yaml"), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "movie.tif: 3 frame(s), but its input" in err and "has 4" in err
    assert "Traceback" not in err


def test_super_resolution_of_a_time_lapse_scales_space_not_time(tmp_path, capsys):
    highs = np.stack([low_high_resolution_pair((32, 32), seed=s)[1] for s in range(3)])
    _write_movie(tmp_path / "high" / "movie.tif", highs)
    (tmp_path / "sr.yaml").write_text(
        "task: super_resolution\nscale: 2\noutput: model\npatch_shape: [16, 16]\n"
        "samples_per_epoch: 4\ndata: {high: high}\n"
        "model: {n_features: 4, n_blocks: 1}\ntrain: {epochs: 1, batch_size: 2}\n"
    )
    assert main(["train", str(tmp_path / "sr.yaml")]) == 0
    assert "training on 3 image(s)" in capsys.readouterr().out
    code = main(["predict", str(tmp_path / "model"), "-i", str(tmp_path / "high"),
                 "-o", str(tmp_path / "pred")])  # fmt: skip
    assert code == 0
    out, meta = read_image(tmp_path / "pred" / "movie_sr.tif")
    assert out.shape == (3, 64, 64) and meta.axes == "TYX"
    assert meta.spacing == pytest.approx((5.0, 0.25, 0.25))
    sr = load_model(tmp_path / "model")
    np.testing.assert_allclose(out[1], sr.predict(highs[1]), rtol=1e-5, atol=1e-5)
