"""bioimage.io export of the image classifier: fixed input size, (batch, channel) output."""

import io
import zipfile

import numpy as np
import pytest
import yaml

pytest.importorskip("bioimageio.core")
pytest.importorskip("torch")

FORMATS = ["pytorch_state_dict", "torchscript", "onnx"]
SHAPE = (16, 16)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A tiny classifier trained one epoch on phenotype crops, and its package."""
    from biakit.data import phenotype_crops
    from biakit.workflows import ImageClassifier
    from biakit.workflows._classification_config import ClassificationConfig

    crops = phenotype_crops(3, SHAPE, seed=0)
    cfg = ClassificationConfig(
        input_shape=SHAPE, model={"base_filters": 4, "stages": (1, 1)},
        train={"epochs": 1, "batch_size": 4, "amp": "none"},
    )  # fmt: skip
    clf = ImageClassifier(cfg)
    clf.train(crops.images, crops.labels, class_names=crops.class_names)
    path = tmp_path_factory.mktemp("cls") / "classifier.zip"
    # a sample of another size: the export brings it to input_shape as biakit does
    sample = np.pad(crops.images[0], 4, mode="edge")
    return clf, crops, clf.export_bioimageio(path, sample=sample)


def _read(path, name):
    with zipfile.ZipFile(path) as z:
        return z.read(name)


@pytest.mark.slow
def test_classification_package_passes_test_model_offline(classifier):
    from biakit.bioimageio import test_package

    _, _, path = classifier
    for fmt in FORMATS:
        summary = test_package(path, weight_format=fmt)
        failed = [d.name for d in summary.details if d.status == "failed"]
        assert summary.status == "passed", (fmt, failed)


def test_classification_package_axes_processing_and_config(classifier):
    clf, crops, path = classifier
    rdf = yaml.safe_load(_read(path, "rdf.yaml"))
    ins = {a.get("id", a["type"]): a for a in rdf["inputs"][0]["axes"]}
    assert [ins["y"]["size"], ins["x"]["size"]] == list(SHAPE)  # fixed, not parameterised
    outs = rdf["outputs"][0]["axes"]
    assert [a["type"] for a in outs] == ["batch", "channel"]
    assert outs[1]["channel_names"] == list(crops.class_names)
    assert rdf["outputs"][0]["postprocessing"][0]["id"] == "softmax"
    assert [p["id"] for p in rdf["inputs"][0]["preprocessing"]][:2] == [
        "ensure_dtype", "scale_range"]  # fmt: skip
    biakit = rdf["config"]["biakit"]
    assert biakit["task"] == "classification"
    assert biakit["input"]["shape"] == list(SHAPE) and biakit["input"]["resize"] == "resize"
    assert biakit["class_names"] == list(crops.class_names)
    assert "16x16" in rdf["description"] and "16x16" in _read(path, "README.md").decode()
    # test tensors: the sample brought to input_shape by fit_shape; output = the workflow's
    test_in = np.load(io.BytesIO(_read(path, "test_input.npy")))
    test_out = np.load(io.BytesIO(_read(path, "test_output.npy")))
    assert test_in.shape == (1, 1, *SHAPE) and test_out.shape == (1, 3)
    np.testing.assert_allclose(test_out.sum(), 1.0, atol=1e-5)
    np.testing.assert_allclose(test_out[0], clf.predict_maps(test_in[0], amp="none"), atol=1e-4)


@pytest.mark.parametrize("fmt", FORMATS)
def test_loaded_classification_package_equals_the_workflow(fmt, classifier):
    from biakit.bioimageio import load_package

    clf, crops, path = classifier
    model = load_package(path, weight_format=fmt)
    for image in crops.images[:3]:
        probs = model.predict_maps(image)
        assert probs.shape == (3,)
        np.testing.assert_allclose(probs, clf.predict_maps(image, amp="none"), atol=1e-4)
        assert model.postprocess(probs) == int(np.argmax(probs))


def test_classification_package_errors(classifier):
    from biakit.bioimageio import load_package
    from biakit.bioimageio._tasks import _channel_ids
    from biakit.errors import DataError

    path = classifier[2]
    model = load_package(path)
    model.biakit = {}  # as a package of another tool: it does not resize images
    with pytest.raises(DataError, match=r"valid input size \(16, 16\)"):
        model.predict_maps(np.zeros((20, 16), np.float32))
    # class names that are no bioimage.io identifiers become class0, class1, ...
    assert _channel_ids(["big cell", "small"], "class") == ["class0", "class1"]
    assert _channel_ids(["a", "a"], "class") == ["class0", "class1"]
    assert _channel_ids(["round", "odd_1"], "class") == ["round", "odd_1"]


def test_classification_package_predict_to_disk_writes_predictions_csv(classifier, tmp_path):
    """predictions.csv as ImageClassifier writes it: images of another size are fitted."""
    import pandas as pd

    from biakit.bioimageio import load_package
    from biakit.io import ImageMeta, write_image

    clf, crops, path = classifier
    for i, image in enumerate(crops.images[:4]):
        big = np.pad(image, 3, mode="edge") if i % 2 else image  # not all of input_shape
        write_image(tmp_path / "in" / crops.class_names[i % 3] / f"c{i}.tif", big,
                    ImageMeta("YX"))  # fmt: skip
    files = str(tmp_path / "in" / "*" / "*.tif")
    model = load_package(path)
    report = model.predict_to_disk(files, tmp_path / "pkg")
    assert not report.failures and report.extra_outputs == (tmp_path / "pkg" / "predictions.csv",)
    clf.predict_to_disk(files, tmp_path / "wf")
    ours = pd.read_csv(tmp_path / "pkg" / "predictions.csv")
    theirs = pd.read_csv(tmp_path / "wf" / "predictions.csv")
    assert list(ours.columns) == list(theirs.columns)
    assert ours["file"].tolist() == theirs["file"].tolist()
    assert ours["class"].tolist() == theirs["class"].tolist()
    probs = [c for c in ours.columns if c.startswith("p_")]
    assert len(probs) == 3
    np.testing.assert_allclose(ours[probs].to_numpy(), theirs[probs].to_numpy(), atol=1e-4)
    # without config.biakit.class_names: class names from the output's channel names
    model.biakit = {k: v for k, v in model.biakit.items() if k != "class_names"}
    model.predict_to_disk(files, tmp_path / "other")
    other = pd.read_csv(tmp_path / "other" / "predictions.csv")
    assert [c for c in other.columns if c.startswith("p_")] == probs
