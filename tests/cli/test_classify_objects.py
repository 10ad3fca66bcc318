"""``biakit classify-objects``: class map and object table per image, clear one-line errors."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biakit.io import ImageMeta, read_image, write_image

pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

MODELS = Path(__file__).resolve().parents[1] / "data" / "models"
CLASSIFIER = MODELS / "classification_v1"  # frozen: 2D grey, 16 x 16 input, 3 phenotypes


@pytest.fixture(scope="module", autouse=True)
def _verb():
    """Register the verb when the command line does not have it yet (it is added by the lead)."""
    from biakit.cli import app
    from biakit.cli._classify import classify_objects
    from biakit.cli._errors import guard_eof

    if not any(c.name == "classify-objects" for c in app.registered_commands):
        app.command("classify-objects")(guard_eof(classify_objects))


def _scene(root: Path, name: str = "cells") -> tuple[np.ndarray, np.ndarray]:
    labels = np.zeros((40, 48), np.uint16)
    labels[4:12, 4:12] = 1
    labels[20:24, 10:30] = 2
    labels[28:36, 36:44] = 5
    rng = np.random.default_rng(0)
    image = ((labels > 0) * 120 + rng.normal(30, 5, labels.shape)).astype(np.uint8)
    write_image(root / "img" / f"{name}.tif", image, ImageMeta("YX", (0.5, 0.5)))
    write_image(root / "lab" / f"{name}.tif", labels, ImageMeta("YX", (0.5, 0.5)))
    return image, labels


def test_writes_class_map_and_table(cli, tmp_path):
    from biakit.workflows import load_model
    from biakit.workflows._classify_objects import classify_objects

    image, labels = _scene(tmp_path)
    out = tmp_path / "out"
    r = cli("classify-objects", CLASSIFIER, "--image", tmp_path / "img" / "cells.tif",
            "--labels", tmp_path / "lab" / "cells.tif", "-o", out)  # fmt: skip
    assert r.code == 0, r.err
    assert "3 object(s) classified" in r.out
    table = pd.read_csv(out / "cells_objects.csv")
    assert table["label"].tolist() == [1, 2, 5]
    names = ["round", "elongated", "multinucleated"]
    assert [f"p_{n}" for n in names] == [c for c in table.columns if c.startswith("p_")]
    expected = classify_objects(load_model(CLASSIFIER), image, labels, spacing=0.5)
    np.testing.assert_allclose(table[[f"p_{n}" for n in names]], expected.filter(like="p_"),
                               atol=1e-5)  # fmt: skip
    assert table["class"].tolist() == [names[i] for i in table["class_id"]]
    np.testing.assert_allclose(table["area"], [16.0, 20.0, 16.0])  # 0.25 um^2 pixels
    classes, meta = read_image(out / "cells_classes.tif", lazy=False)
    truth = np.zeros(labels.shape, np.uint8)
    for lab, cid in zip(table["label"], table["class_id"]):
        truth[labels == lab] = cid + 1
    np.testing.assert_array_equal(np.asarray(classes), truth)
    assert meta.spatial_spacing == (0.5, 0.5)
    again = cli("classify-objects", CLASSIFIER, "--image", tmp_path / "img", "--labels",
                tmp_path / "lab", "-o", out, "--no-measure")  # fmt: skip
    assert again.code == 2 and "--overwrite" in again.err
    again = cli("classify-objects", CLASSIFIER, "--image", tmp_path / "img", "--labels",
                tmp_path / "lab", "-o", out, "--no-measure", "--overwrite")  # fmt: skip
    assert again.code == 0, again.err
    assert "area" not in pd.read_csv(out / "cells_objects.csv").columns


def _one_error(r) -> str:
    assert r.code == 2, (r.out, r.err)
    assert len(r.err_lines) == 1 and r.err_lines[0].startswith("biakit: error:"), r.err
    return r.err_lines[0]


def test_shape_mismatch(cli, tmp_path):
    _scene(tmp_path)
    write_image(tmp_path / "bad.tif", np.zeros((10, 10), np.uint16), ImageMeta("YX"))
    r = cli("classify-objects", CLASSIFIER, "--image", tmp_path / "img" / "cells.tif",
            "--labels", tmp_path / "bad.tif", "-o", tmp_path / "out")  # fmt: skip
    assert "shape (10, 10)" in _one_error(r) and "(40, 48)" in r.err
    assert not (tmp_path / "out" / "cells_classes.tif").exists()


def test_float_labels(cli, tmp_path):
    _, labels = _scene(tmp_path)
    write_image(tmp_path / "f.tif", labels.astype(np.float32) + 0.5, ImageMeta("YX"))
    r = cli("classify-objects", CLASSIFIER, "--image", tmp_path / "img" / "cells.tif",
            "--labels", tmp_path / "f.tif", "-o", tmp_path / "out")  # fmt: skip
    assert "non-integer" in _one_error(r)


def test_not_a_classification_model(cli, tmp_path):
    _scene(tmp_path)
    r = cli("classify-objects", MODELS / "semantic_v1", "--image", tmp_path / "img",
            "--labels", tmp_path / "lab", "-o", tmp_path / "out")  # fmt: skip
    assert "'semantic' model" in _one_error(r) and "classification" in r.err


def test_wrong_spacing_and_missing_labels(cli, tmp_path):
    _scene(tmp_path)
    r = cli("classify-objects", CLASSIFIER, "--image", tmp_path / "img", "--labels",
            tmp_path / "lab", "-o", tmp_path / "out", "--spacing", "1", "--spacing", "2",
            "--spacing", "3")  # fmt: skip
    assert "--spacing" in _one_error(r)
    r = cli("classify-objects", CLASSIFIER, "--image", tmp_path / "img", "--labels",
            tmp_path / "nothing", "-o", tmp_path / "out")  # fmt: skip
    assert "no images found" in _one_error(r) and "nothing" in r.err
    (tmp_path / "empty").mkdir()
    r = cli("classify-objects", CLASSIFIER, "--image", tmp_path / "img", "--labels",
            tmp_path / "empty", "-o", tmp_path / "out")  # fmt: skip
    assert "empty" in _one_error(r)
