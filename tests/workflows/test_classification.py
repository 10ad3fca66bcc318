"""The image-classification workflow on tiny synthetic phenotypes: the contract, files, errors."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from biakit.data._phenotypes import phenotype_crops
from biakit.errors import ConfigError, DataError
from biakit.io import ImageMeta, write_image
from biakit.workflows import load_model, parse_workflow_config, register_workflow
from biakit.workflows._classification_config import ClassificationConfig
from biakit.workflows.classification import (
    ImageClassifier,
    classification_training_data,
    fit_shape,
    load_classification_data,
    recalibrate_batchnorm,
    write_classification_report,
)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {
    "input_shape": (24, 24),
    "model": {"base_filters": 4, "stages": (1, 1)},
    "train": {"epochs": 2, "batch_size": 8, "device": "cpu", "amp": "none", "plot_every": 0},
}


@pytest.fixture(scope="module", autouse=True)
def _registered():
    register_workflow(ImageClassifier)


@pytest.fixture(scope="module")
def crops():
    return phenotype_crops(6, (24, 24), seed=0)


@pytest.fixture(scope="module")
def clf(crops):
    c = ImageClassifier(ClassificationConfig(**TINY))
    c.train(crops.images, crops.labels, class_names=crops.class_names)
    return c


def test_predict_maps_and_predict(clf, crops):
    probs = clf.predict_maps(crops.images[0])
    assert probs.shape == (3,) and probs.dtype == np.float32
    assert probs.sum() == pytest.approx(1.0, abs=1e-5) and probs.min() >= 0
    assert clf.predict(crops.images[0]) == int(np.argmax(probs))
    batch = clf.predict_proba(crops.images[:4])
    np.testing.assert_allclose(batch[0], probs, atol=1e-6)
    tta = clf.predict_maps(crops.images[0], tta=True)
    assert tta.shape == (3,) and tta.sum() == pytest.approx(1.0, abs=1e-5)
    assert clf.class_names == ("round", "elongated", "multinucleated")
    assert clf.training["input_shape"] == [24, 24]


def test_evaluate_matches_sklearn(clf, crops):
    ev = clf.evaluate(crops.images, crops.labels)
    table = ev.per_image
    assert list(table.columns[:5]) == ["image", "true", "predicted", "true_class",
                                       "predicted_class"]  # fmt: skip
    y, pred = table["true"].to_numpy(), table["predicted"].to_numpy()
    probs = table[[f"p_{n}" for n in crops.class_names]].to_numpy()
    np.testing.assert_array_equal(pred, probs.argmax(1))
    row = ev.summary.iloc[0]
    assert row["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))
    assert row["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert row["roc_auc"] == pytest.approx(skm.roc_auc_score(y, probs, multi_class="ovr"),
                                           abs=1e-6)  # fmt: skip
    assert ev.headline().startswith("precision")
    by_name = clf.evaluate(crops.images[:3], ["round", "round", "elongated"])
    assert by_name.per_image["true"].tolist() == [0, 0, 1]


def test_save_load_roundtrip(clf, crops, tmp_path):
    folder = clf.save(tmp_path / "model")
    manifest = json.loads((folder / "model.json").read_text())
    assert manifest["architecture"] == {"id": "resnet_small", "version": 1}
    assert manifest["training"]["class_names"] == list(crops.class_names)
    assert manifest["network"]["out_channels"] == 3
    for loaded in (ImageClassifier.load(folder), load_model(folder)):
        assert isinstance(loaded, ImageClassifier)
        np.testing.assert_allclose(loaded.predict_proba(crops.images[:3]),
                                   clf.predict_proba(crops.images[:3]), atol=1e-6)  # fmt: skip


def test_rgb_unequal_sizes_string_labels_and_balanced_weights():
    rng = np.random.default_rng(0)
    sizes = [(20, 30), (28, 28), (40, 16), (24, 24), (33, 21), (26, 26), (18, 18), (30, 22)]
    images = [rng.random((3, *s)).astype(np.float32) for s in sizes]
    labels = ["b", "a", "a", "a", "a", "a", "b", "c"]
    cfg = ClassificationConfig(**{**TINY, "val_fraction": 0.0, "input_shape": (16, 16)})
    c = ImageClassifier(cfg)
    c.train(images, labels)
    assert c.class_names == ("a", "b", "c")
    assert c.in_channels == 3
    # inverse frequency N / (n_classes * N_k): 8 / (3 * [5, 2, 1])
    np.testing.assert_allclose(c.training["class_weights"], [8 / 15, 8 / 6, 8 / 3])
    assert c.training["class_counts"] == [5, 2, 1]
    assert c.predict_maps(rng.random((3, 50, 9))).shape == (3,)
    with pytest.raises(DataError, match="model was trained on 3"):
        c.predict_maps(rng.random((50, 9)))


def test_3d_and_pad_mode():
    crops = phenotype_crops(3, (12, 20, 20), classes=("round", "elongated"), seed=1)
    cfg = ClassificationConfig(**{**TINY, "input_shape": (12, 24, 24), "resize": "pad"})
    c = ImageClassifier(cfg)
    c.train(crops.images, crops.labels)
    assert c.network_config.ndim == 3
    assert c.predict_maps(crops.images[0]).shape == (2,)


def test_fit_shape():
    image = np.arange(12.0).reshape(1, 3, 4)
    np.testing.assert_array_equal(fit_shape(image, (3, 4)), image)
    padded = fit_shape(image, (5, 4), mode="pad")
    np.testing.assert_array_equal(padded[0, 1:4], image[0])
    assert np.all(padded[0, 0] == np.median(image))
    cropped = fit_shape(image, (1, 2), mode="pad")
    np.testing.assert_array_equal(cropped[0], [[5.0, 6.0]])
    up = fit_shape(np.ones((2, 5, 7)), (9, 9))
    assert up.shape == (2, 9, 9) and np.allclose(up, 1.0)
    with pytest.raises(ValueError, match="mode must be 'resize' or 'pad'"):
        fit_shape(image, (4, 4), mode="crop")


def test_recalibrated_batchnorm_matches_training_mode():
    """After recalibration on one batch, eval mode gives the training-mode output of that batch."""
    from biakit.nn.models._resnet import ResNetSmall
    from biakit.nn.models._resnet_config import ResNetConfig

    torch.manual_seed(0)
    net = ResNetSmall(ResNetConfig(base_filters=4, out_channels=2))
    xs = [np.random.default_rng(i).random((1, 16, 16)).astype(np.float32) for i in range(6)]
    recalibrate_batchnorm(net, xs, batch_size=6)
    x = torch.from_numpy(np.stack(xs))
    with torch.no_grad():
        ev = net.eval()(x)
        tr = net.train()(x)
    # running var is unbiased (n / (n - 1)), batch var is biased: equal up to that factor
    assert torch.allclose(ev, tr, atol=0.05)
    assert not net.eval().training


def test_predict_to_disk_and_report(clf, crops, tmp_path):
    inp = tmp_path / "in"
    for i in (0, 7, 14):
        write_image(inp / f"cell{i}.tif", crops.images[i], ImageMeta("YX"))
    report = clf.predict_to_disk(inp, tmp_path / "out")
    assert not report.failures
    table = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert table["file"].tolist() == ["cell0.tif", "cell14.tif", "cell7.tif"]
    cols = [f"p_{n}" for n in crops.class_names]
    np.testing.assert_allclose(table[cols].sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(table.loc[0, cols].to_numpy(float),
                               clf.predict_maps(crops.images[0]), atol=1e-5)  # fmt: skip
    assert table["class"].tolist() == [crops.class_names[k] for k in table["class_id"]]
    ev = clf.evaluate(crops.images, crops.labels)
    paths = write_classification_report(ev, tmp_path / "rep")
    assert [p.name for p in paths] == ["report.csv", "confusion_matrix.csv",
                                       "confusion_matrix.png", "roc_curves.png"]  # fmt: skip
    assert paths[3].stat().st_size > 1000
    with_cams = write_classification_report(
        ev, tmp_path / "rep2", classifier=clf, images=crops.images, labels=crops.labels, n_cams=2
    )
    assert with_cams[-1].name == "grad_cam.png" and with_cams[-1].stat().st_size > 1000
    rep = pd.read_csv(paths[0])
    assert rep["class"].tolist()[:3] == list(crops.class_names)
    assert rep.set_index("class").loc["macro avg", "f1"] == pytest.approx(ev.metrics.macro_f1)
    cm = pd.read_csv(paths[1], index_col=0)
    assert cm.to_numpy().sum() == len(crops.images)
    with pytest.raises(FileExistsError, match=r"report\.csv: exists already"):
        write_classification_report(ev, tmp_path / "rep")


def test_load_data_from_folders_and_csv(tmp_path, crops):
    for i in (0, 1, 6, 12):
        name = crops.class_names[crops.labels[i]]
        write_image(tmp_path / "train" / name / f"c{i}.tif", crops.images[i], ImageMeta("YX"))
    images, labels, names = load_classification_data(tmp_path / "train")
    assert names == ("elongated", "multinucleated", "round")  # sorted folder names
    assert labels.tolist() == [0, 1, 2, 2] and images[0].shape == (1, 24, 24)
    pd.DataFrame(
        {"path": ["train/round/c0.tif", "train/elongated/c6.tif"], "class": ["round", "elongated"]}
    ).to_csv(tmp_path / "l.csv", index=False)
    images, labels, names = load_classification_data(tmp_path / "l.csv",
                                                     class_names=crops.class_names)  # fmt: skip
    assert labels.tolist() == [0, 1] and names == crops.class_names
    np.testing.assert_allclose(images[0][0], crops.images[0])
    cfg = ClassificationConfig(data={"images": str(tmp_path / "train"),
                                     "test_images": str(tmp_path / "l.csv")})  # fmt: skip
    (xs, ys), (tx, ty) = classification_training_data(cfg)
    assert ys == ["elongated", "multinucleated", "round", "round"]  # sorted class folders
    assert ty == ["round", "elongated"] and len(xs) == 4 and len(tx) == 2
    with pytest.raises(DataError, match="no 'data' section"):
        classification_training_data(ClassificationConfig())
    pd.DataFrame({"file": ["a.tif"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"missing column\(s\) \['class', 'path'\]"):
        load_classification_data(tmp_path / "bad.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images in class sub-folders"):
        load_classification_data(tmp_path / "empty")
    with pytest.raises(DataError, match=r"expected a folder of class sub-folders or a \.csv"):
        load_classification_data(tmp_path / "nothing.txt")


def test_config_from_yaml_mapping():
    cfg = parse_workflow_config({"task": "classification", "input_shape": [32, 32, 32],
                                 "n_classes": 4, "data": {"images": "train/"}})  # fmt: skip
    assert isinstance(cfg, ClassificationConfig)
    assert cfg.model.ndim == 3 and cfg.model.out_channels == 4 and cfg.patch_shape == (32,) * 3
    with pytest.raises(ConfigError, match="set input_shape"):
        parse_workflow_config({"task": "classification", "patch_shape": [32, 32]})
    with pytest.raises(ConfigError, match="differs from input_shape"):
        parse_workflow_config({"task": "classification", "patch_shape": [8, 8],
                               "input_shape": [16, 16]})  # fmt: skip
    with pytest.raises(ConfigError, match="classification trains with 'ce'"):
        parse_workflow_config({"task": "classification", "train": {"loss": "dice"}})
    with pytest.raises(ConfigError, match="n_classes=3 but class_names has 2"):
        parse_workflow_config({"task": "classification", "n_classes": 3,
                               "class_names": ["a", "b"]})  # fmt: skip
    with pytest.raises(ConfigError, match="class_names must be >= 2 distinct"):
        parse_workflow_config({"task": "classification", "class_names": ["a", "a"]})
    with pytest.raises(ConfigError, match="class_weights has 3 entries for 2 classes"):
        parse_workflow_config({"task": "classification", "n_classes": 2,
                               "train": {"class_weights": [1, 2, 3]}})  # fmt: skip
    with pytest.raises(ConfigError, match=r"data\.masks: unknown key"):
        parse_workflow_config({"task": "classification", "data": {"images": "a", "masks": "b"}})


def test_train_and_predict_errors(crops):
    c = ImageClassifier(ClassificationConfig(**TINY))
    with pytest.raises(RuntimeError, match="not trained"):
        c.predict_maps(crops.images[0])
    with pytest.raises(DataError, match="got 3 image\\(s\\) and 2 label"):
        c.train(crops.images[:3], [0, 1])
    with pytest.raises(DataError, match="unknown class\\(es\\) \\['x'\\]"):
        c.train(crops.images[:2], ["round", "x"], class_names=["round", "elongated"])
    with pytest.raises(DataError, match=r"class ids in 0\.\.1"):
        c.train(crops.images[:2], [0, 2], class_names=["a", "b"])
    with pytest.raises(DataError, match="integer class ids or class names"):
        c.train(crops.images[:2], [0.5, 1.0])
    with pytest.raises(DataError, match="must be a list of images"):
        c.train(crops.images[0], [0])
    with pytest.raises(DataError, match="labels is missing"):
        c.train(crops.images[:2], None)
    with pytest.raises(DataError, match="need at least 2 classes"):
        c.train(crops.images[:2], ["a", "a"])
    bad = ImageClassifier(
        ClassificationConfig(**{**TINY, "train": {**TINY["train"], "class_weights": [1.0]}})
    )
    with pytest.raises(DataError, match="class_weights has 1 entries for 3 classes"):
        bad.train(crops.images, crops.labels)


VIT = {**TINY, "network": "vit_tiny", "model": {"embed_dim": 12, "depth": 1, "heads": 2}}


def test_vit_network_trains_saves_and_loads(crops, tmp_path):
    c = ImageClassifier(ClassificationConfig(**VIT))
    assert c.architecture == "vit_tiny" and c.config.model.patch_size == 4  # 24 -> 6 x 4
    c.train(crops.images, crops.labels, class_names=crops.class_names)
    folder = c.save(tmp_path / "vit")
    manifest = json.loads((folder / "model.json").read_text())
    assert manifest["architecture"] == {"id": "vit_tiny", "version": 1}
    assert json.loads((folder / "config.json").read_text())["network"] == "vit_tiny"
    loaded = load_model(folder)
    assert type(loaded.model).__name__ == "ViTTiny" and loaded.config.network == "vit_tiny"
    np.testing.assert_allclose(loaded.predict_proba(crops.images[:3]),
                               c.predict_proba(crops.images[:3]), atol=1e-6)  # fmt: skip


def test_network_choice_in_the_config():
    default = ClassificationConfig()
    assert default.network == "resnet_small" and default.model.architecture == "resnet_small"
    assert default.model.stages == (1, 1, 1) and default.model.base_filters == 16
    vit = parse_workflow_config({"task": "classification", "network": "vit_tiny",
                                 "input_shape": [8, 16, 16]})  # fmt: skip
    assert (vit.model.architecture, vit.model.ndim, vit.model.patch_size) == ("vit_tiny", 3, 2)
    assert vit.model.embed_dim == 64 and vit.model.depth == 4
    by_model = parse_workflow_config({"task": "classification",
                                      "model": {"architecture": "vit_tiny"}})  # fmt: skip
    assert by_model.network == "vit_tiny" and by_model.model.patch_size == 8
    odd = ClassificationConfig(network="vit_tiny", input_shape=(30, 30))
    assert odd.model.patch_size == 2
    # a config dumped and read back gives the same config (config.json of the model folder)
    again = ClassificationConfig.model_validate(vit.model_dump(mode="json"))
    assert again == vit
    with pytest.raises(ConfigError, match=r"network='vit_tiny' but model\.architecture"):
        parse_workflow_config({"task": "classification", "network": "vit_tiny",
                               "model": {"architecture": "resnet_small"}})  # fmt: skip
    with pytest.raises(ConfigError, match="network='vgg': expected one of resnet_small"):
        parse_workflow_config({"task": "classification", "network": "vgg"})
    with pytest.raises(ConfigError, match=r"not a multiple of model\.patch_size=8"):
        parse_workflow_config({"task": "classification", "network": "vit_tiny",
                               "input_shape": [20, 20], "model": {"patch_size": 8}})  # fmt: skip
    with pytest.raises(ConfigError, match=r"model\.vit_tiny\.stages"):
        parse_workflow_config({"task": "classification", "network": "vit_tiny",
                               "model": {"stages": [1, 1]}})  # fmt: skip


def test_folder_saved_before_the_network_option_loads():
    """``tests/data/models/classification_v1`` was written before ``network`` existed."""
    from pathlib import Path

    folder = Path(__file__).parents[1] / "data" / "models" / "classification_v1"
    assert "network" not in json.loads((folder / "config.json").read_text())
    loaded = load_model(folder)
    assert loaded.config.network == "resnet_small" and loaded.architecture == "resnet_small"
    expected = np.load(folder / "expected.npz")
    np.testing.assert_allclose(loaded.predict_maps(expected["image"]), expected["maps"], atol=1e-5)
    assert loaded.class_names == ("round", "elongated", "multinucleated")


def test_predict_proba_precision(clf, crops):
    exact = clf.predict_proba(crops.images[:4], amp="none")
    np.testing.assert_allclose(clf.predict_proba(crops.images[:4]), exact, atol=1e-6)  # as trained
    auto = clf.predict_proba(crops.images[:4], amp="auto")  # bf16 where native: close
    np.testing.assert_allclose(auto, exact, atol=0.05)
    with pytest.raises(ValueError, match="amp must be 'none', 'auto'"):
        clf.predict_proba(crops.images[:1], amp="half")


def test_predictions_csv_keeps_files_of_class_folders_apart(clf, crops, tmp_path):
    for i, name in enumerate(("round", "elongated")):
        (tmp_path / "in" / name).mkdir(parents=True)
        write_image(tmp_path / "in" / name / "0.tif", crops.images[i], ImageMeta("YX"))
    inputs = sorted((tmp_path / "in").glob("*/*.tif"))
    report = clf.predict_to_disk(inputs, tmp_path / "out")
    assert not report.failures
    table = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert sorted(table["file"]) == ["elongated/0.tif", "round/0.tif"]
