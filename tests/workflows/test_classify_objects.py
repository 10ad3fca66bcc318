"""Object classification from a label image: crop geometry, batching, the table, the class map."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from biakit.errors import DataError, ParameterError
from biakit.workflows import ClassificationConfig, ImageClassifier
from biakit.workflows._classify_objects import class_map, classify_objects, object_crops

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

NAMES = ("round", "elongated")


def scene(n: int = 6, cell: int = 20, seed: int = 0):
    """Discs (class 0) and thin ellipses (class 1) on a grid, randomly turned; truth per label."""
    rng = np.random.default_rng(seed)
    size = n * cell
    yy, xx = np.mgrid[:size, :size].astype(float)
    labels = np.zeros((size, size), np.int32)
    classes = {}
    for lab in range(1, n * n + 1):
        i, j = divmod(lab - 1, n)
        k = int(rng.integers(2))
        cy, cx = (i + 0.5) * cell + rng.uniform(-1, 1), (j + 0.5) * cell + rng.uniform(-1, 1)
        a = rng.uniform(0, np.pi)
        u = np.cos(a) * (xx - cx) + np.sin(a) * (yy - cy)
        v = -np.sin(a) * (xx - cx) + np.cos(a) * (yy - cy)
        semi = (4.5, 4.5) if k == 0 else (8.0, 2.5)
        labels[(u / semi[0]) ** 2 + (v / semi[1]) ** 2 <= 1] = lab
        classes[lab] = k
    image = (labels > 0) * 100.0 + rng.normal(0, 10, labels.shape) + 20
    return image.astype(np.float32), labels, classes


@pytest.fixture(scope="module")
def trained():
    """A classifier trained from object crops of one scene (the training path)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    image, labels, classes = scene(n=8, seed=0)
    crops = object_crops(image, labels, context=0.5)
    cfg = ClassificationConfig(
        input_shape=(16, 16), model={"base_filters": 4, "stages": (1, 1)}, seed=0,
        train={"epochs": 12, "batch_size": 8, "device": "cpu", "amp": "none", "plot_every": 0},
    )  # fmt: skip
    clf = ImageClassifier(cfg)
    clf.train(crops, [classes[k] for k in sorted(classes)], class_names=NAMES)
    torch.set_num_threads(before)
    return clf


class Stub:
    """A classifier whose probabilities encode each crop's maximum (object id * 10)."""

    task = "classification"
    class_names = ("a", "b", "c")
    config = SimpleNamespace(ndim=2, input_shape=(8, 8))
    in_channels = 1

    def __init__(self):
        self.batches = []

    def _require_trained(self):
        pass

    def predict_proba(self, crops, *, tta=False, batch_size=64):
        self.batches.append(len(crops))
        out = np.zeros((len(crops), 3), np.float32)
        for i, c in enumerate(crops):
            out[i, int(c.max() // 10) % 3] = 1.0
        return out


def _objects_image():
    labels = np.zeros((30, 30), np.uint16)
    labels[2:5, 2:5] = 3
    labels[10:14, 20:22] = 7
    labels[20:25, 5:9] = 8
    labels[26:29, 26:29] = 12
    labels[15:17, 2:4] = 20
    image = labels.astype(np.float32) * 10  # crop maximum = label * 10 (context holds no other)
    return image, labels


# --------------------------------------------------------------------------- crop geometry
def test_crop_boxes_by_hand():
    image = np.arange(400, dtype=np.float32).reshape(20, 20)
    labels = np.zeros((20, 20), int)
    labels[4:8, 5:7] = 1  # 4 x 2 box
    # square: widened to 4 x 4 about its centre (cols 4..8), then ceil(0.5 * 4) = 2 each side
    (crop,) = object_crops(image, labels, context=0.5)
    np.testing.assert_array_equal(crop[0], image[2:10, 2:10])
    (crop,) = object_crops(image, labels, context=0.5, square=False)  # 2 rows, 1 col each side
    np.testing.assert_array_equal(crop[0], image[2:10, 4:8])
    (crop,) = object_crops(image, labels, context=0.0, margin=3)
    np.testing.assert_array_equal(crop[0], image[1:11, 1:11])
    (crop,) = object_crops(image, labels, context=0.0, square=False)
    np.testing.assert_array_equal(crop[0], image[4:8, 5:7])


def test_crop_outside_image_filled_with_median():
    image = np.arange(100, dtype=np.float32).reshape(10, 10)
    labels = np.zeros((10, 10), int)
    labels[0:2, 0:2] = 5
    (crop,) = object_crops(image, labels, context=1.0)  # box -2..4 on both axes
    assert crop.shape == (1, 6, 6)
    inside = image[0:4, 0:4]
    np.testing.assert_array_equal(crop[0, 2:, 2:], inside)
    assert np.all(crop[0, :2] == np.median(inside)) and np.all(crop[0, :, :2] == np.median(inside))


def test_crops_in_label_order_and_channel_layouts():
    image, labels = _objects_image()
    crops = object_crops(image, labels, context=0.0, square=False)
    assert [int(c.max()) // 10 for c in crops] == [3, 7, 8, 12, 20]
    assert [c.shape[1:] for c in crops] == [(3, 3), (4, 2), (5, 4), (3, 3), (2, 2)]
    rgb = np.stack([image, 2 * image, 3 * image], axis=-1)
    last = object_crops(rgb, labels, context=0.2)
    first = object_crops(np.moveaxis(rgb, -1, 0), labels, context=0.2)
    for a, b in zip(last, first):
        assert a.shape[0] == 3
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a[1], 2 * a[0])


def test_crops_3d_square_in_physical_units():
    labels = np.zeros((10, 30, 30), int)
    labels[4:6, 10:18, 12:16] = 1  # z 2 px (4 um), y 8 um, x 4 um at spacing (2, 1, 1)
    image = np.random.default_rng(0).random(labels.shape)
    (crop,) = object_crops(image, labels, context=0.0, spacing=(2, 1, 1))
    assert crop.shape == (1, 4, 8, 8)  # 8 um on every axis
    np.testing.assert_array_equal(crop[0], image[3:7, 10:18, 10:18])
    (crop,) = object_crops(image, labels, context=0.0)  # pixels: 8 px on every axis
    assert crop.shape == (1, 8, 8, 8)


def test_crop_errors():
    image, labels = _objects_image()
    with pytest.raises(DataError, match="boolean mask"):
        object_crops(image, labels > 0)
    with pytest.raises(DataError, match="non-integer"):
        object_crops(image, labels + 0.5)
    with pytest.raises(DataError, match="same spatial shape"):
        object_crops(image[:20], labels)
    with pytest.raises(DataError, match="channel_axis=0 or -1"):
        object_crops(np.zeros((4, 4, 4)), np.zeros((4, 4), int))
    with pytest.raises(DataError, match="expected 3 dimensions"):
        object_crops(image, labels, channel_axis=0)
    with pytest.raises(DataError, match="2D"):
        object_crops(np.zeros(5), np.zeros(5, int))
    with pytest.raises(ParameterError, match="context must be"):
        object_crops(image, labels, context=-1)
    with pytest.raises(ParameterError, match="margin must be"):
        object_crops(image, labels, margin=1.5)


# --------------------------------------------------------------------------- classification
def test_table_rows_follow_labels_across_batches():
    image, labels = _objects_image()
    stub = Stub()
    table = classify_objects(stub, image, labels, context=0.1, batch_size=2)
    assert stub.batches == [2, 2, 1]
    assert table.columns.tolist() == ["label", "class_id", "class", "p_a", "p_b", "p_c"]
    assert table["label"].tolist() == [3, 7, 8, 12, 20]
    assert table["class_id"].tolist() == [lab % 3 for lab in (3, 7, 8, 12, 20)]
    assert table["class"].tolist() == [Stub.class_names[lab % 3] for lab in (3, 7, 8, 12, 20)]
    assert table.attrs["class_names"] == ["a", "b", "c"]
    expected = np.zeros_like(labels, np.uint8)
    for lab in (3, 7, 8, 12, 20):
        expected[labels == lab] = lab % 3 + 1
    np.testing.assert_array_equal(class_map(labels, table), expected)


def test_trained_classifier_on_a_new_scene(trained):
    image, labels, classes = scene(n=6, seed=1)
    table = classify_objects(trained, image, labels, measure=True)
    truth = np.array([classes[k] for k in table["label"]])
    assert np.mean(table["class_id"].to_numpy() == truth) >= 0.8
    probs = table[["p_round", "p_elongated"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(table["class_id"], probs.argmax(axis=1))
    # the measurements are joined by label: areas are the pixel counts
    areas = np.bincount(labels.ravel())[table["label"]]
    np.testing.assert_array_equal(table["area"], areas)
    assert "mean_intensity" in table and table.attrs["units"]["area"]
    # the same crops through predict_proba directly give the same probabilities
    direct = trained.predict_proba(object_crops(image, labels))
    np.testing.assert_allclose(probs, direct, atol=1e-5)
    only = classify_objects(trained, image, labels, measure=["area"], spacing=0.5)
    np.testing.assert_allclose(only["area"], areas * 0.25)
    assert only.columns[-1] == "area"


def test_empty_labels_give_an_empty_table(trained):
    table = classify_objects(trained, np.zeros((16, 16)), np.zeros((16, 16), int))
    assert len(table) == 0 and table.columns.tolist()[:3] == ["label", "class_id", "class"]
    assert class_map(np.zeros((4, 4), int), table).max() == 0


def test_classify_errors(trained):
    image, labels = _objects_image()
    other = SimpleNamespace(task="semantic")
    with pytest.raises(TypeError, match="'semantic' model"):
        classify_objects(other, image, labels)
    with pytest.raises(TypeError, match="must be an ImageClassifier"):
        classify_objects(object(), image, labels)
    with pytest.raises(RuntimeError, match="not trained"):
        classify_objects(ImageClassifier(), image, labels)
    with pytest.raises(DataError, match="labels are 3D"):
        classify_objects(trained, np.zeros((4, 8, 8)), np.ones((4, 8, 8), int))
    with pytest.raises(DataError, match="2 channel"):
        classify_objects(trained, np.zeros((2, 30, 30)), labels)
    with pytest.raises(ParameterError, match="batch_size"):
        classify_objects(trained, image, labels, batch_size=0)
    with pytest.raises(DataError, match="same spatial shape"):
        classify_objects(trained, image[:, :10], labels)


def test_class_map_by_hand_and_errors():
    labels = np.array([[0, 1, 2, 2], [5, 5, 0, 9]])
    table = pd.DataFrame({"label": [1, 2, 5], "class_id": [2, 0, 1]})
    np.testing.assert_array_equal(class_map(labels, table), [[0, 3, 1, 1], [2, 2, 0, 0]])
    big = pd.DataFrame({"label": [1], "class_id": [300]})
    out = class_map(labels, big)
    assert out.dtype == np.uint16 and out[0, 1] == 301
    with pytest.raises(DataError, match="no column 'class_id'"):
        class_map(labels, pd.DataFrame({"label": [1]}))
    with pytest.raises(DataError, match="class ids >= 0"):
        class_map(labels, pd.DataFrame({"label": [1], "class_id": [-1]}))


def test_rgb_and_3d_objects():
    rng = np.random.default_rng(0)
    tiny = {"model": {"base_filters": 2, "stages": (1,)}, "val_fraction": 0.0,
            "train": {"epochs": 1, "batch_size": 4, "device": "cpu", "amp": "none",
                      "plot_every": 0}}  # fmt: skip
    # RGB, channel last: the classifier sees 3 channels
    labels = np.zeros((24, 24), np.int32)
    labels[2:8, 2:8], labels[12:20, 10:14] = 1, 2
    rgb = rng.random((24, 24, 3)).astype(np.float32)
    clf = ImageClassifier(ClassificationConfig(input_shape=(8, 8), **tiny))
    clf.train(object_crops(rgb, labels) * 2, [0, 1, 1, 0], class_names=("a", "b"))
    assert clf.in_channels == 3
    table = classify_objects(clf, rgb, labels, measure=True)
    assert table["label"].tolist() == [1, 2] and "mean_intensity_c2" in table
    np.testing.assert_allclose(table["p_a"] + table["p_b"], 1.0, atol=1e-5)
    # 3D, anisotropic
    labels3 = np.zeros((6, 20, 20), np.int32)
    labels3[1:4, 2:10, 2:10], labels3[2:5, 12:18, 11:19] = 4, 9
    volume = rng.random(labels3.shape).astype(np.float32)
    clf3 = ImageClassifier(ClassificationConfig(input_shape=(8, 8, 8), **tiny))
    clf3.train(object_crops(volume, labels3, spacing=(2, 1, 1)) * 2, [0, 1, 1, 0])
    table = classify_objects(clf3, volume, labels3, spacing=(2, 1, 1), measure=["volume"])
    assert table["label"].tolist() == [4, 9]
    np.testing.assert_allclose(table["volume"], [3 * 64 * 2, 3 * 48 * 2])
    classes = class_map(labels3, table)
    assert set(np.unique(classes[labels3 == 4])) == {table["class_id"][0] + 1}


# --------------------------------------------------------------------------- object-mask channel
def test_mask_channel_marks_only_its_object_by_hand():
    labels = np.zeros((12, 12), np.int32)
    labels[0:4, 0:3] = 1  # touches the top and left borders
    labels[0:4, 3:6] = 2  # touches object 1
    image = np.where(labels > 0, 50.0, 5.0)
    crops = object_crops(image, labels, context=0.0, margin=2, square=False, mask=True)
    one, two = crops
    # object 1: rows -2..6, cols -2..5; the mask is 1 exactly on its 4x3 pixels
    assert one.shape == (2, 8, 7)
    expected = np.zeros((8, 7))
    expected[2:6, 2:5] = 1
    np.testing.assert_array_equal(one[1], expected)
    # its neighbour is visible in the image channel but not in the mask channel
    assert one[0, 2:6, 5:7].min() == 50.0 and one[1, 2:6, 5:7].max() == 0
    assert two[1].sum() == 12 and one[1].sum() == 12
    # without mask the image channel is the same crop
    plain = object_crops(image, labels, context=0.0, margin=2, square=False)
    np.testing.assert_array_equal(plain[0][0], one[0])
    with pytest.raises(ParameterError, match="mask must be True or False"):
        object_crops(image, labels, mask="yes")


def test_classifier_trained_with_masks_gets_them_automatically():
    image, labels, classes = scene(n=6, seed=2)
    crops = object_crops(image, labels, context=0.5, mask=True)
    cfg = ClassificationConfig(
        input_shape=(16, 16), model={"base_filters": 2, "stages": (1,)}, seed=0,
        train={"epochs": 1, "batch_size": 8, "device": "cpu", "amp": "none", "plot_every": 0},
    )  # fmt: skip
    clf = ImageClassifier(cfg)
    clf.train(crops, [classes[k] for k in sorted(classes)], class_names=NAMES)
    assert clf.in_channels == 2
    table = classify_objects(clf, image, labels)
    direct = clf.predict_proba(crops)
    np.testing.assert_allclose(table[["p_round", "p_elongated"]].to_numpy(), direct, atol=1e-5)
    with pytest.raises(DataError, match="1 channel\\(s\\); the classifier was trained on 2"):
        classify_objects(clf, image, labels, mask=False)
