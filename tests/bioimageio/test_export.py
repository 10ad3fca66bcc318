import io
import json
import zipfile

import numpy as np
import pytest
import yaml

from biakit.errors import ParameterError

from .conftest import make_workflow, smooth_image

TASKS = ["semantic", "instance", "detection", "denoise", "super_resolution", "isotropic"]
FORMATS = ["pytorch_state_dict", "torchscript", "onnx"]


def _read(path, name):
    with zipfile.ZipFile(path) as z:
        return z.read(name)


@pytest.mark.slow
@pytest.mark.parametrize("task", [*TASKS, "denoise_per_image"])
def test_export_passes_test_model_offline_for_every_weight_format(task, exported):
    from biakit.bioimageio import test_package

    _, path = exported(task)
    for fmt in FORMATS:
        summary = test_package(path, weight_format=fmt)
        failed = [d.name for d in summary.details if d.status == "failed"]
        assert summary.status == "passed", (fmt, failed)


@pytest.mark.parametrize("task", ["semantic", "instance", "detection", "denoise"])
def test_package_reproduces_biakit_maps_and_carries_the_config(task, exported):
    wf, path = exported(task)
    rdf = yaml.safe_load(_read(path, "rdf.yaml"))
    test_in = np.load(io.BytesIO(_read(path, rdf["inputs"][0]["test_tensor"]["source"])))
    test_out = np.load(io.BytesIO(_read(path, rdf["outputs"][0]["test_tensor"]["source"])))
    # the package's test output (bioimageio.core) equals biakit's own maps
    # the package is the network alone: no test-time augmentation, no blind-spot blend
    alone = {"blend_input": False} if task == "denoise" else {}
    maps = wf.predict_maps(
        test_in[0],
        blending="none",
        device="cpu",
        amp="none",
        tile_shape=test_in.shape[2:],
        tta=False,
        **alone,
    )
    np.testing.assert_allclose(maps, test_out[0], atol=1e-4)
    biakit = rdf["config"]["biakit"]
    assert biakit["task"] == task and biakit["architecture"] == {"id": "unet", "version": 1}
    assert json.loads(_read(path, "biakit_model.json"))["task"] == task
    readme = _read(path, "README.md").decode()
    assert "# Validation" in readme and "val_loss: 0.5" in readme
    assert all("github_user" not in a for a in rdf["authors"])
    assert rdf["weights"]["pytorch_state_dict"]["architecture"]["callable"] == "biakit_unet_v1"
    # divisor of a depth-1 U-Net is 2; halo from its receptive field, 2 * halo a multiple of 2
    axes = {a.get("id", a["type"]): a for a in rdf["inputs"][0]["axes"]}
    assert axes["y"]["size"]["step"] == 2
    out_axes = {a.get("id", a["type"]): a for a in rdf["outputs"][0]["axes"]}
    assert out_axes["y"]["halo"] >= wf.network_config.halo[0]


def test_preprocessing_uses_the_spec_operations(exported):
    _, path = exported("semantic")
    rdf = yaml.safe_load(_read(path, "rdf.yaml"))
    ops = [p["id"] for p in rdf["inputs"][0]["preprocessing"]]
    assert ops[:2] == ["ensure_dtype", "scale_range"]  # the spec appends a float32 cast
    kw = rdf["inputs"][0]["preprocessing"][1]["kwargs"]
    assert (kw["min_percentile"], kw["max_percentile"]) == (1.0, 99.8)
    assert kw["axes"] == ["y", "x"]  # per sample and channel, as biakit's Normalizer
    assert rdf["outputs"][0]["postprocessing"][0]["id"] == "softmax"
    _, path = exported("denoise")
    rdf = yaml.safe_load(_read(path, "rdf.yaml"))
    pre = rdf["inputs"][0]["preprocessing"][1]["kwargs"]  # (x - 100) / 50
    assert pre["gain"] == pytest.approx(0.02) and pre["offset"] == pytest.approx(-2.0)
    post = rdf["outputs"][0]["postprocessing"][0]["kwargs"]
    assert post["gain"] == pytest.approx(50.0) and post["offset"] == pytest.approx(100.0)


def test_per_image_denoiser_package_normalises_each_sample(exported):
    """``norm_scope="image"``: per-sample z-score in, normalised out; biakit maps it back."""
    wf, path = exported("denoise_per_image")
    rdf = yaml.safe_load(_read(path, "rdf.yaml"))
    pre = rdf["inputs"][0]["preprocessing"]
    assert pre[1]["id"] == "zero_mean_unit_variance" and pre[1]["kwargs"]["axes"] == ["y", "x"]
    assert [p["id"] for p in rdf["outputs"][0]["postprocessing"]] == ["ensure_dtype"]
    test_in = np.load(io.BytesIO(_read(path, rdf["inputs"][0]["test_tensor"]["source"])))[0]
    test_out = np.load(io.BytesIO(_read(path, rdf["outputs"][0]["test_tensor"]["source"])))[0]
    mean, std = test_in.mean(), test_in.std()
    maps = wf.predict_maps(test_in, blending="none", device="cpu", amp="none",
                           tile_shape=test_in.shape[1:], tta=False, blend_input=False)  # fmt: skip
    np.testing.assert_allclose(test_out * std + mean, maps, rtol=1e-4, atol=1e-3 * std)
    # what biakit adds around the network is said in the package (N2V: TTA and the blend)
    readme = _read(path, "README.md").decode()
    assert "the four 90-degree rotations" in readme and "own noisy value back" in readme


def test_super_resolution_output_is_scaled(exported):
    _, path = exported("super_resolution")
    rdf = yaml.safe_load(_read(path, "rdf.yaml"))
    test_in = np.load(io.BytesIO(_read(path, "test_input.npy")))
    test_out = np.load(io.BytesIO(_read(path, "test_output.npy")))
    assert test_out.shape[2:] == tuple(2 * n for n in test_in.shape[2:])
    assert rdf["config"]["biakit"]["architecture"]["id"] == "edsr_lite"


def test_architecture_file_runs_without_biakit(exported, tmp_path):
    import subprocess
    import sys

    _, path = exported("semantic")
    (tmp_path / "arch.py").write_bytes(_read(path, "biakit_unet_v1.py"))
    code = (
        "import sys, torch, arch\n"
        "net = arch.biakit_unet_v1(ndim=2, in_channels=1, out_channels=3, depth=1, "
        "base_filters=2)\n"
        "assert net(torch.zeros(1, 1, 8, 8)).shape == (1, 3, 8, 8)\n"
        "assert 'biakit' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)


def test_export_errors(tmp_path, exported):
    wf, path = exported("semantic")
    with pytest.raises(FileExistsError, match="exists already"):
        wf.export_bioimageio(path)
    with pytest.raises(ParameterError, match="weights must be"):
        wf.export_bioimageio(tmp_path / "a.zip", weights=("keras",))
    with pytest.raises(ParameterError, match="weights must be"):
        wf.export_bioimageio(tmp_path / "a.zip", weights=("onnx",))
    with pytest.raises(ParameterError, match="sample has 2 channel"):
        wf.export_bioimageio(tmp_path / "a.zip", sample=np.zeros((2, 32, 32)))
    untrained = make_workflow("semantic")
    untrained.model = None
    with pytest.raises(RuntimeError, match="not trained"):
        untrained.export_bioimageio(tmp_path / "b.zip")
    from biakit.bioimageio._tasks import task_spec

    class Other:
        task = "tracking"

    with pytest.raises(ParameterError, match=r"no bioimage\.io export for task 'tracking'"):
        task_spec(Other())
    assert smooth_image((4, 4)).dtype == np.float32


@pytest.mark.parametrize("folder", ["semantic_v0", "instance_v1"])
def test_frozen_model_folders_of_older_releases_export(folder, tmp_path):
    from pathlib import Path

    from biakit.bioimageio import test_package
    from biakit.workflows import load_model

    models = Path(__file__).parents[1] / "data" / "models"
    wf = load_model(models / folder)
    path = wf.export_bioimageio(tmp_path / "m.zip", weights=("pytorch_state_dict",))
    assert test_package(path, "pytorch_state_dict").status == "passed"
