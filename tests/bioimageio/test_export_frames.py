"""bioimage.io export of the frame predictor: time axes in and out, round trip through biakit."""

import io
import zipfile

import numpy as np
import pytest
import yaml

pytest.importorskip("bioimageio.core")
torch = pytest.importorskip("torch")

FORMATS = ["pytorch_state_dict", "torchscript", "onnx"]
N_IN, N_OUT, HORIZON = 3, 2, 3  # horizon > n_output: the package rolls the network out


def _train(model):
    """A tiny frame predictor trained one epoch, its weights moved off persistence (seeded)."""
    from biakit.data._moving_digits import moving_digits
    from biakit.workflows import FramePredictor
    from biakit.workflows._frame_config import FramePredictionConfig

    movies = [
        m.astype(np.float32) * 200 + 10
        for m in moving_digits(3, 8, canvas=16, digit_scale=1, seed=0)
    ]
    cfg = FramePredictionConfig(
        n_input=N_IN, n_output=N_OUT, horizon=HORIZON, patch_shape=(16, 16),
        samples_per_epoch=4, model=model, train={"epochs": 1, "batch_size": 2, "amp": "none"},
    )  # fmt: skip
    fp = FramePredictor(cfg)
    fp.train(movies)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in fp.model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    fp.training["horizon_blend"] = [0.5, 0.9]  # the last weight repeats for horizon 3
    fp.training["horizon_hold"] = [False, False, True]  # horizon 3 holds frame 2 (n_output)
    fp.training["blend_anchor_sigma"] = 1.0  # the blend's anchor: the last frame smoothed
    return fp, movies


@pytest.fixture(scope="module")
def simvp(tmp_path_factory):
    fp, movies = _train({"hid_s": 4, "hid_t": 8, "n_t": 1, "groups": 2, "n_s": 2})
    path = tmp_path_factory.mktemp("frames") / "simvp.zip"
    return fp, movies, fp.export_bioimageio(path, sample=movies[0])


def _read(path, name):
    with zipfile.ZipFile(path) as z:
        return z.read(name)


@pytest.mark.slow
def test_frame_package_passes_test_model_offline(simvp):
    from biakit.bioimageio import test_package

    for fmt in FORMATS:
        summary = test_package(simvp[2], weight_format=fmt)
        failed = [d.name for d in summary.details if d.status == "failed"]
        assert summary.status == "passed", (fmt, failed)


def test_frame_package_axes_processing_and_tensors(simvp):
    fp, movies, path = simvp
    rdf = yaml.safe_load(_read(path, "rdf.yaml"))
    ins, outs = rdf["inputs"][0]["axes"], rdf["outputs"][0]["axes"]
    assert [a["type"] for a in ins] == ["batch", "time", "channel", "space", "space"]
    assert [a["type"] for a in outs] == ["batch", "time", "channel", "space", "space"]
    assert ins[1]["size"] == N_IN and outs[1]["size"] == HORIZON
    assert ins[3]["size"] == {"min": 2, "step": 2}  # SimVP n_s=2 halves frames once
    assert "halo" not in outs[3]  # frames are predicted whole
    # intensities: (x - offset) / scale before, x * scale + offset after
    norm = fp.training["normalization"]
    pre = rdf["inputs"][0]["preprocessing"][1]
    assert pre["id"] == "scale_linear"
    assert pre["kwargs"]["gain"] == pytest.approx(1 / norm["scale"][0])
    assert pre["kwargs"]["offset"] == pytest.approx(-norm["offset"][0] / norm["scale"][0])
    post = rdf["outputs"][0]["postprocessing"][0]["kwargs"]
    assert (post["gain"], post["offset"]) == pytest.approx((norm["scale"][0], norm["offset"][0]))
    biakit = rdf["config"]["biakit"]
    assert biakit["task"] == "frame_prediction"
    assert biakit["frames"]["blend"] == [0.5, 0.9] and biakit["frames"]["horizon"] == HORIZON
    arch = rdf["weights"]["pytorch_state_dict"]["architecture"]
    assert arch["callable"] == "biakit_simvp_v1_frames"
    assert "# Validation" in _read(path, "README.md").decode()
    # the test input is the sample's last frames; the test output the workflow's forecast
    test_in = np.load(io.BytesIO(_read(path, "test_input.npy")))
    test_out = np.load(io.BytesIO(_read(path, "test_output.npy")))
    assert test_in.shape == (1, N_IN, 1, 16, 16) and test_out.shape == (1, HORIZON, 1, 16, 16)
    np.testing.assert_array_equal(test_in[0, :, 0], movies[0][-N_IN:])
    np.testing.assert_allclose(test_out[0], fp.predict_maps(movies[0], horizon=HORIZON),
                               atol=1e-4)  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_imported_frame_package_predicts_as_the_workflow(fmt, simvp):
    from biakit.bioimageio import load_package

    fp, movies, path = simvp
    model = load_package(path, weight_format=fmt)
    assert model.geometry.inputs[0].time == "time" and model.geometry.inputs[0].frames == (3, 0)
    # a longer movie (the last 3 frames are used), and frames of no multiple of 2 (padded by
    # the consumer: the package smooths the blend's anchor on the padded frame, so there it
    # equals the workflow away from the padded edges, farther than the Gaussian's radius 4)
    for movie, inner in ((movies[1], np.s_[:]), (movies[2][:, :13, :11], np.s_[..., :8, :6])):
        ours = model.predict_maps(movie)
        np.testing.assert_allclose(ours[inner], fp.predict_maps(movie, horizon=HORIZON)[inner],
                                   atol=1e-4)  # fmt: skip
        np.testing.assert_allclose(model.predict(movie)[inner], fp.predict(movie, HORIZON)[inner],
                                   atol=1e-4)  # fmt: skip
    # a (T, C, Y, X) movie too
    two_d = movies[1][:, None]
    assert model.predict_maps(two_d).shape == (HORIZON, 1, 16, 16)


def test_frame_package_architecture_file_runs_without_biakit(simvp, tmp_path):
    import subprocess
    import sys

    fp, movies, path = simvp
    rdf = yaml.safe_load(_read(path, "rdf.yaml"))
    arch = rdf["weights"]["pytorch_state_dict"]["architecture"]
    (tmp_path / "arch.py").write_bytes(_read(path, arch["source"]))
    (tmp_path / "weights.pt").write_bytes(_read(path, "weights.pt"))
    x = fp._normalize(movies[1][-N_IN:, None].astype(np.float32))
    np.save(tmp_path / "x.npy", x[None])
    code = (
        "import json, sys, numpy as np, torch, arch\n"
        f"net = arch.{arch['callable']}(**json.loads(sys.argv[1])).eval()\n"
        "net.load_state_dict(torch.load('weights.pt', weights_only=True))\n"
        "np.save('y.npy', net(torch.from_numpy(np.load('x.npy'))).detach().numpy())\n"
        "assert 'biakit' not in sys.modules\n"
    )
    import json

    subprocess.run([sys.executable, "-c", code, json.dumps(arch["kwargs"])], cwd=tmp_path,
                   check=True)  # fmt: skip
    # the frozen network in normalised intensities equals the workflow's blended roll-out
    expected = fp._normalize(fp.predict_maps(movies[1], horizon=HORIZON))
    np.testing.assert_allclose(np.load(tmp_path / "y.npy")[0], expected, atol=1e-4)


def test_frame_package_predict_to_disk_and_cli(simvp, tmp_path):
    import tifffile

    from biakit.bioimageio import load_package
    from biakit.cli import main
    from biakit.io import ImageMeta, write_image

    fp, movies, path = simvp
    write_image(tmp_path / "movie.tif", movies[1], ImageMeta("TYX"))
    report = load_package(path).predict_to_disk(tmp_path / "movie.tif", tmp_path / "out")
    assert not report.failures and report.outcomes[0].n_objects == HORIZON
    written = tifffile.imread(tmp_path / "out" / "movie_predicted.tif")
    np.testing.assert_allclose(written, fp.predict(movies[1], HORIZON), atol=1e-4)
    code = main(["predict", str(path), "-i", str(tmp_path / "movie.tif"), "-o",
                 str(tmp_path / "cli")])  # fmt: skip
    assert code == 0
    np.testing.assert_allclose(tifffile.imread(tmp_path / "cli" / "movie_predicted.tif"),
                               written, atol=1e-6)  # fmt: skip


def test_cli_export_of_a_frame_model_folder(simvp, tmp_path):
    from biakit.cli import main
    from biakit.io import ImageMeta, write_image

    fp, movies, _ = simvp
    fp.save(tmp_path / "model")
    write_image(tmp_path / "movie.tif", movies[2], ImageMeta("TYX"))
    out = tmp_path / "frames.zip"
    code = main(["export", str(tmp_path / "model"), "-o", str(out), "--weights",
                 "pytorch_state_dict", "--sample", str(tmp_path / "movie.tif")])  # fmt: skip
    assert code == 0
    test_in = np.load(io.BytesIO(_read(out, "test_input.npy")))
    np.testing.assert_array_equal(test_in[0, :, 0], movies[2][-N_IN:])
    rdf = yaml.safe_load(_read(out, "rdf.yaml"))
    assert rdf["config"]["biakit"]["frames"]["horizon"] == HORIZON


def test_frame_package_errors(simvp, tmp_path):
    from biakit.bioimageio import load_package
    from biakit.errors import DataError, ParameterError

    fp, movies, path = simvp
    with pytest.raises(ParameterError, match="give a movie with >= 3 frames"):
        fp.export_bioimageio(tmp_path / "a.zip", sample=movies[0][:2])
    model = load_package(path)
    with pytest.raises(DataError, match=r"has 2 frame\(s\); the package takes 3"):
        model.predict_maps(movies[0][:2])
    with pytest.raises(DataError, match=r"expected \(T, \*spatial\)"):
        model.predict_maps(movies[0][0, 0])
    with pytest.raises(DataError, match=r"has 2 channel\(s\)"):
        model.predict_maps(np.zeros((3, 2, 16, 16), np.float32))


def test_frame_package_with_test_time_augmentation(simvp, tmp_path):
    """config.tta (mean over the 8 flips / quarter turns of every pass) travels in the package."""
    from biakit.bioimageio import load_package

    fp, movies, _ = simvp
    if "tta" not in type(fp.config).model_fields:
        pytest.skip("this FramePredictionConfig has no tta option")
    original = fp.config
    fp.config = original.model_copy(update={"tta": True})
    try:
        path = fp.export_bioimageio(tmp_path / "tta.zip", sample=movies[0],
                                    weights=("pytorch_state_dict", "torchscript"))  # fmt: skip
        expected = fp.predict_maps(movies[1][:, :12, :14], horizon=HORIZON)
        without = original.model_copy(update={"tta": False})
        fp.config = without
        plain = fp.predict_maps(movies[1][:, :12, :14], horizon=HORIZON)
    finally:
        fp.config = original
    assert np.abs(expected - plain).max() > 1e-3  # the augmentation changes the forecast
    for fmt in ("pytorch_state_dict", "torchscript"):
        ours = load_package(path, weight_format=fmt).predict_maps(movies[1][:, :12, :14])
        np.testing.assert_allclose(ours, expected, atol=1e-4)


@pytest.mark.slow
def test_convlstm_frame_package(tmp_path):
    from biakit.bioimageio import load_package, test_package

    fp, movies = _train({"architecture": "convlstm", "hidden": 4, "n_layers": 1})
    path = fp.export_bioimageio(tmp_path / "convlstm.zip", sample=movies[0])
    for fmt in FORMATS:
        assert test_package(path, weight_format=fmt).status == "passed", fmt
        model = load_package(path, weight_format=fmt)
        expected = fp.predict_maps(movies[1], horizon=HORIZON)
        np.testing.assert_allclose(model.predict_maps(movies[1]), expected, atol=1e-4)


def test_every_network_workflow_has_a_tested_exporter():
    """Each registered workflow with a network exports (tracking has none)."""
    from biakit.bioimageio import EXPORTERS
    from biakit.workflows import WORKFLOWS
    from biakit.workflows._network import NetworkWorkflow

    from .test_export import TASKS

    network = {t for t, cls in WORKFLOWS.items() if issubclass(cls, NetworkWorkflow)}
    assert network == set(EXPORTERS)
    # test_export.py covers TASKS, test_export_classification.py and this file the rest
    assert network == {*TASKS, "classification", "frame_prediction"}
    assert "tracking" in WORKFLOWS and "tracking" not in EXPORTERS


@pytest.mark.slow
def test_3d_frame_package(tmp_path):
    """3D frames (B, T, C, Z, Y, X): every weight format, default sample, round trip."""
    from biakit.bioimageio import load_package, test_package
    from biakit.nn.models import build_network
    from biakit.workflows import FramePredictor
    from biakit.workflows._frame_config import FramePredictionConfig

    cfg = FramePredictionConfig(
        n_input=2, n_output=1, horizon=2, patch_shape=(8, 8, 8),
        model={"hid_s": 2, "hid_t": 4, "n_t": 1, "groups": 1, "n_s": 2},
    )  # fmt: skip
    fp = FramePredictor(cfg)  # an untrained network with random weights (seeded)
    torch.manual_seed(0)
    fp.network_config = cfg.network_config(1)
    fp.model = build_network(fp.architecture, fp.network_config).eval()
    with torch.no_grad():
        for p in fp.model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    fp.training = {"normalization": {"offset": [0.2], "scale": [0.5]}, "horizon_blend": [0.7]}
    path = fp.export_bioimageio(tmp_path / "f3d.zip")
    rng = np.random.default_rng(1)
    movie = rng.random((3, 9, 10, 11)).astype(np.float32)
    for fmt in FORMATS:
        assert test_package(path, weight_format=fmt).status == "passed", fmt
        ours = load_package(path, weight_format=fmt).predict_maps(movie)
        np.testing.assert_allclose(ours, fp.predict_maps(movie, horizon=2), atol=1e-4)


def test_frame_forecaster_holds_the_last_direct_frame():
    from torch import nn

    from biakit.bioimageio._frame_net import FrameForecaster

    class Plus(nn.Module):  # 1 frame in, 2 out: last + 1, last + 2
        def forward(self, x):
            return torch.cat([x[:, -1:] + 1, x[:, -1:] + 2], dim=1)

    x = torch.zeros(1, 1, 1, 2, 2)
    rolled = FrameForecaster(Plus(), 1, 2, horizon=5)(x)[0, :, 0, 0, 0].tolist()
    held = FrameForecaster(Plus(), 1, 2, horizon=5, hold=(False, False, True))(x)
    assert rolled == [1.0, 2.0, 3.0, 4.0, 5.0]  # autoregressive: 2 passes, then a third
    assert held[0, :, 0, 0, 0].tolist() == [1.0, 2.0, 2.0, 2.0, 2.0]  # one pass, frame 2 held


@pytest.mark.parametrize("spatial", [(9, 11), (5, 7, 9), (2, 3), (1, 4)])
def test_package_anchor_blur_equals_scipy(spatial):
    from scipy import ndimage as ndi

    from biakit.bioimageio._frame_net import _gaussian

    x = torch.from_numpy(np.random.default_rng(0).normal(size=(2, 1, 3, *spatial)))
    for sigma in (0.5, 1.5):
        ref = ndi.gaussian_filter(x.numpy(), (0, 0, 0) + (sigma,) * len(spatial), mode="nearest")
        np.testing.assert_allclose(_gaussian(x, sigma).numpy(), ref, atol=1e-10)
