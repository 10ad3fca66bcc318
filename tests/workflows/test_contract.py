"""The workflow contract: same verbs, composed configs, model folders, predict_to_disk."""

import json
import os
import stat
from typing import Literal

import numpy as np
import pydantic
import pytest

from biakit.data import synthetic_nuclei, synthetic_spots
from biakit.errors import ConfigError, ModelFileError
from biakit.io import ImageMeta, read_image, write_image
from biakit.workflows import (
    TASKS,
    WORKFLOWS,
    DetectionConfig,
    Detector,
    Evaluation,
    InstanceConfig,
    InstanceSegmenter,
    SemanticConfig,
    SemanticSegmenter,
    Workflow,
    config_schema,
    load_model,
    parse_workflow_config,
    register_workflow,
)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {
    "patch_shape": (32, 32),
    "samples_per_epoch": 4,
    "model": {"depth": 1, "base_filters": 2},
    "train": {"epochs": 1, "batch_size": 2, "device": "cpu", "plot_every": 0},
}
VERBS = ("train", "predict", "predict_maps", "postprocess", "predict_to_disk", "evaluate",
         "save", "load")  # fmt: skip


def _nuclei(n=2, shape=(32, 32)):
    return [synthetic_nuclei(shape, n_objects=3, seed=s) for s in range(n)]


@pytest.fixture(scope="module")
def trained():
    """One tiny trained model per task (1 epoch)."""
    data = _nuclei()
    images = [d.image for d in data]
    sem = SemanticSegmenter(SemanticConfig(**TINY))
    sem.train(images, [d.mask for d in data])
    ins = InstanceSegmenter(InstanceConfig(**TINY))
    ins.train(images, [d.labels for d in data])
    spots = [synthetic_spots((32, 32), n_spots=4, seed=s) for s in range(2)]
    det = Detector(DetectionConfig(**TINY))
    det.train([s.image for s in spots], [s.points for s in spots])
    return {"semantic": (sem, images, [d.mask for d in data]),
            "instance": (ins, images, [d.labels for d in data]),
            "detection": (det, [s.image for s in spots], [s.points for s in spots])}  # fmt: skip


def test_every_task_has_the_same_verbs():
    assert set(WORKFLOWS) >= {"semantic", "instance", "detection"}
    for cls in WORKFLOWS.values():
        for verb in VERBS:
            assert callable(getattr(cls, verb)), (cls, verb)


@pytest.mark.parametrize("task", ["semantic", "instance", "detection"])
def test_maps_are_channels_first_and_predict_is_postprocess_of_maps(trained, task):
    workflow, images, truths = trained[task]
    maps = workflow.predict_maps(images[0])
    assert maps.shape == (workflow.config.out_channels, 32, 32)
    direct, composed = workflow.predict(images[0]), workflow.postprocess(maps)
    pairs = zip(direct, composed) if task == "detection" else [(direct, composed)]
    for a, b in pairs:
        np.testing.assert_array_equal(a, b)
    evaluation = workflow.evaluate(images, truths)
    assert isinstance(evaluation, Evaluation) and evaluation.task == task
    assert evaluation.per_image.columns[0] == "image"
    assert set(evaluation.per_image["image"]) == {0, 1}
    assert evaluation.headline()


@pytest.mark.parametrize("task", ["semantic", "instance", "detection"])
def test_model_folder_round_trip(trained, task, tmp_path):
    workflow, images, _ = trained[task]
    folder = workflow.save(tmp_path / "m")
    manifest = json.loads((folder / "model.json").read_text())
    assert manifest["format_version"] == 1 and manifest["task"] == task
    assert manifest["architecture"] == {"id": "unet", "version": 1}
    assert manifest["network"]["in_channels"] == 1
    config = json.loads((folder / "config.json").read_text())
    assert parse_workflow_config(config) == workflow.config  # the config is the task config
    assert (folder / "thresholds.json").exists() == (workflow.thresholds is not None)
    loaded = load_model(folder)
    assert type(loaded) is type(workflow) and loaded.thresholds == workflow.thresholds
    np.testing.assert_allclose(loaded.predict_maps(images[0]), workflow.predict_maps(images[0]),
                               atol=1e-6)  # fmt: skip
    # saving refuses to replace unless asked, and leaves no temporary folder behind
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        workflow.save(folder)
    workflow.save(folder, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_model_folder_respects_the_umask(trained, tmp_path):
    old = os.umask(0o022)
    try:
        folder = trained["semantic"][0].save(tmp_path / "m")
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


def test_a_failed_save_leaves_nothing(trained, tmp_path, monkeypatch):
    workflow = trained["semantic"][0]

    def broken(folder):
        (folder / "weights.pt").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(workflow, "_write_state", broken)
    with pytest.raises(OSError, match="disk full"):
        workflow.save(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_tuned_values_live_in_thresholds_not_in_the_config(trained):
    det = trained["detection"][0]
    assert set(det.thresholds) == {"threshold", "min_distance"}
    assert det.config == DetectionConfig(**TINY)  # tuning left the config alone
    ins = trained["instance"][0]
    assert {"fg_threshold", "seed_threshold", "min_size"} <= set(ins.thresholds)
    assert ins.decode_params.fg_threshold == ins.thresholds["fg_threshold"]


def test_damaged_model_folders_are_one_line_errors(trained, tmp_path):
    folder = trained["semantic"][0].save(tmp_path / "m")
    weights = folder / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelFileError, match=r"weights\.pt: cannot read the weights \(damaged\)"):
        load_model(folder)

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    torch.save({"x": Evil()}, weights)
    with pytest.raises(ModelFileError, match=r"refused: it holds objects other than tensors"):
        load_model(folder)
    assert not (tmp_path / "pwned").exists()
    torch.save({"conv.weight": torch.zeros(1)}, weights)
    with pytest.raises(ModelFileError, match=r"do not fit the network"):
        load_model(folder)
    (folder / "model.json").write_text("{not json")
    with pytest.raises(ModelFileError, match=r"model\.json: not valid JSON"):
        load_model(folder)
    (folder / "model.json").write_text(json.dumps({"format": "biakit.model", "format_version": 99}))
    with pytest.raises(ModelFileError, match=r"format_version 99 is newer"):
        load_model(folder)
    with pytest.raises(ModelFileError, match=r"not a biakit model folder"):
        load_model(tmp_path)


def test_config_composes_the_component_configs():
    from biakit.nn.augment import AugmentConfig
    from biakit.nn.datasets import Normalizer
    from biakit.nn.models import UNetConfig
    from biakit.nn.train import TrainConfig

    cfg = parse_workflow_config({"task": "instance", "patch_shape": [16, 32, 32],
                                 "model": {"z_pool": [False, True, True]},
                                 "train": {"max_time": 60}, "encoding": "fg_contour"})  # fmt: skip
    assert isinstance(cfg.model, UNetConfig) and isinstance(cfg.train, TrainConfig)
    assert isinstance(cfg.augment, AugmentConfig) and isinstance(cfg.normalizer, Normalizer)
    assert (cfg.model.ndim, cfg.model.out_channels, cfg.model.depth) == (3, 2, 3)
    assert cfg.train.loss == "bce" and cfg.train.max_time == 60
    with pytest.raises(ConfigError, match=r"model\.out_channels=5 but this instance task needs 2"):
        parse_workflow_config({"task": "instance", "encoding": "fg_contour",
                               "model": {"out_channels": 5}})  # fmt: skip
    with pytest.raises(ConfigError, match=r"x\.yaml: augment\.flipp: unknown key \(did you mean"):
        parse_workflow_config({"task": "semantic", "augment": {"flipp": True}}, source="x.yaml")
    with pytest.raises(ConfigError, match=r"normalizer\.kind: Input should be"):
        parse_workflow_config({"task": "semantic", "normalizer": {"kind": "minmax"}})


@pytest.mark.parametrize("task", ["semantic", "instance", "detection"])
def test_json_schema_is_complete(task):
    schema = config_schema(task)
    defs = schema["$defs"]
    assert {"UNetConfig", "TrainConfig", "AugmentConfig", "Normalizer"} <= set(defs)
    assert "max_time" in defs["TrainConfig"]["properties"]
    assert "elastic" in defs["AugmentConfig"]["properties"]
    assert schema["additionalProperties"] is False


def test_predict_to_disk_writes_every_output_and_never_an_input(trained, tmp_path):
    workflow, images, _ = trained["instance"]
    src = tmp_path / "in"
    for i, im in enumerate(images):
        write_image(src / f"im{i}.tif", im, ImageMeta("YX"))
    (src / "broken.tif").write_bytes(b"not a tiff")
    report = workflow.predict_to_disk(src, tmp_path / "out", maps=True)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        ".biakit-outputs.json", "im0_labels.tif", "im0_maps.tif", "im0_overlay.png",
        "im1_labels.tif", "im1_maps.tif", "im1_overlay.png", "measurements.csv",
        "measurements.units.json",
    ]  # fmt: skip
    assert [o.path.name for o in report.failures] == ["broken.tif"]
    assert "broken.tif" in report.failures[0].error
    labels, _ = read_image(tmp_path / "out" / "im0_labels.tif")
    np.testing.assert_array_equal(labels, workflow.predict(images[0]))
    with pytest.raises(FileExistsError, match=r"output exists; pass --overwrite"):
        workflow.predict_to_disk(src / "im0.tif", tmp_path / "out")
    workflow.predict_to_disk(src / "im0.tif", tmp_path / "out", overwrite=True)  # its own files
    # an output folder equal to the input folder must not destroy ground truth named *_labels
    write_image(src / "im0_labels.tif", np.zeros((32, 32), np.uint16), ImageMeta("YX"))
    before = (src / "im0_labels.tif").read_bytes()
    with pytest.raises(FileExistsError, match=r"im0_labels\.tif: output would replace an input"):
        workflow.predict_to_disk([src / "im0.tif", src / "im0_labels.tif"], src, overwrite=True)
    with pytest.raises(FileExistsError, match=r"im0_labels\.tif: exists and was not written by"):
        workflow.predict_to_disk(src / "im0.tif", src, overwrite=True)
    assert (src / "im0_labels.tif").read_bytes() == before


def test_density_far_from_training_is_reported(trained, tmp_path):
    from biakit.workflows._disk import density_warnings

    workflow = trained["instance"][0]
    seen = workflow.training["density"]
    assert seen["min"] > 0 and seen["unit"] == "objects per million pixels"
    none = np.zeros((32, 32), np.int32)
    assert "far outside" in density_warnings(workflow, tmp_path / "a.tif", none, (32, 32))[0]
    one = np.zeros((32, 32), np.int32)
    one[:4, :4] = 1
    one[10:14, :4] = 2
    one[20:24, :4] = 3
    assert density_warnings(workflow, tmp_path / "a.tif", one, (32, 32)) == ()
    many = np.arange(32 * 32, dtype=np.int32).reshape(32, 32)
    assert density_warnings(workflow, tmp_path / "a.tif", many, (32, 32))


class ThresholdConfig(pydantic.BaseModel):
    """A config without a network: the contract does not need one."""

    model_config = pydantic.ConfigDict(extra="forbid")
    task: Literal["threshold_test"] = "threshold_test"
    ndim: int = 2


class ThresholdWorkflow(Workflow):
    """Learns one intensity threshold (the mean of the two class means)."""

    task = "threshold_test"
    config_class = ThresholdConfig

    def train(self, images, masks, **kwargs):
        values = np.concatenate([np.ravel(im) for im in images])
        fg = np.concatenate([np.ravel(m) for m in masks]) > 0
        self.thresholds = {"threshold": float((values[fg].mean() + values[~fg].mean()) / 2)}

    def predict_maps(self, image, **kwargs):
        return np.asarray(image, np.float32)[None] if np.ndim(image) == 2 else image

    def postprocess(self, maps):
        return (maps[0] > self.thresholds["threshold"]).astype(np.uint8)

    def evaluate(self, images, masks):
        raise NotImplementedError

    def _write_outputs(self, names, *, image, meta, raw, result, overwrite):
        from biakit.workflows.semantic import write_label_outputs

        return write_label_outputs(names, image, meta, raw, result, overwrite=overwrite)


def test_a_workflow_without_a_network_follows_the_same_contract(tmp_path):
    register_workflow(ThresholdWorkflow)
    try:
        data = _nuclei()
        wf = ThresholdWorkflow()
        wf.train([d.image for d in data], [d.mask for d in data])
        folder = wf.save(tmp_path / "m")
        assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.json",
                                                            "thresholds.json"]  # fmt: skip
        loaded = load_model(folder)
        assert isinstance(loaded, ThresholdWorkflow) and loaded.thresholds == wf.thresholds
        write_image(tmp_path / "a.tif", data[0].image, ImageMeta("YX"))
        report = loaded.predict_to_disk(tmp_path / "a.tif", tmp_path / "out")
        assert not report.failures
        labels, _ = read_image(tmp_path / "out" / "a_labels.tif")
        np.testing.assert_array_equal(labels, wf.predict(data[0].image))
    finally:
        WORKFLOWS.pop("threshold_test")
        TASKS.pop("threshold_test")
