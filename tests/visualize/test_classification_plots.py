"""ROC curves against scikit-learn; Grad-CAM mass where the class evidence is known to be."""

import copy

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from biakit.metrics.classification import roc_auc_ovr
from biakit.visualize._classification import (
    _back_to_image,
    grad_cam,
    grad_cam_overlay,
    plot_grad_cams,
    plot_roc_curves,
    roc_curves,
)
from biakit.workflows import ClassificationConfig, ImageClassifier

torch = pytest.importorskip("torch")

SIZE, BOX = 24, 6


def blobs(n: int, seed: int):
    """Noise; class 1 adds a bright BOX x BOX square at a random place (the only evidence)."""
    rng = np.random.default_rng(seed)
    images, classes, corners = [], [], []
    for i in range(n):
        image = rng.normal(0, 0.2, (SIZE, SIZE)).astype(np.float32)
        y0, x0 = rng.integers(1, SIZE - BOX - 1, 2)
        if i % 2:
            image[y0 : y0 + BOX, x0 : x0 + BOX] += 1.0
        images.append(image)
        classes.append(i % 2)
        corners.append((int(y0), int(x0)))
    return images, np.array(classes), corners


@pytest.fixture(scope="module")
def blob_classifier():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    images, classes, _ = blobs(48, 0)
    cfg = ClassificationConfig(
        input_shape=(SIZE, SIZE), model={"base_filters": 4, "stages": (1, 1)}, seed=0,
        normalizer={"kind": "none"}, val_fraction=0.0,
        train={"epochs": 4, "lr": 0.01, "batch_size": 8, "device": "cpu", "amp": "none",
               "plot_every": 0},
    )  # fmt: skip
    clf = ImageClassifier(cfg)
    clf.train(images, classes, class_names=("empty", "blob"))
    torch.set_num_threads(before)
    return clf


# --------------------------------------------------------------------------- ROC
def test_roc_curves_equal_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 40)
    probs = rng.dirichlet(np.ones(3), 40)
    probs[:5, 0] = probs[5:10, 0] = 0.25  # ties
    curves = roc_curves(y, probs)
    for k, (fpr, tpr) in enumerate(curves):
        s_fpr, s_tpr, _ = skm.roc_curve(y == k, probs[:, k], drop_intermediate=False)
        np.testing.assert_allclose(fpr, s_fpr)
        np.testing.assert_allclose(tpr, s_tpr)
        area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)
        assert area == pytest.approx(skm.roc_auc_score(y == k, probs[:, k]))
        assert area == pytest.approx(roc_auc_ovr(y, probs)[k])
    assert roc_curves([0, 0], [[0.6, 0.4], [0.7, 0.3]]) == [None, None]
    with pytest.raises(ValueError, match="probabilities must have shape"):
        roc_curves([0, 1], [0.5, 0.5])


def test_plot_roc_from_an_evaluation(blob_classifier, tmp_path):
    import matplotlib.image

    images, classes, _ = blobs(16, 1)
    evaluation = blob_classifier.evaluate(images, classes)
    fig = plot_roc_curves(evaluation, tmp_path / "plots" / "roc.png")
    png = matplotlib.image.imread(tmp_path / "plots" / "roc.png")
    assert png.shape[0] > 200 and png.std() > 0.05
    probs = evaluation.per_image[["p_empty", "p_blob"]].to_numpy()
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    auc = skm.roc_auc_score(classes, probs[:, 1])
    assert legend == [f"empty (AUC {auc:.3f})", f"blob (AUC {auc:.3f})", "chance"]
    one_sided = pd.DataFrame({"true": [0, 0], "p_a": [0.9, 0.6], "p_b": [0.1, 0.4]})
    fig = plot_roc_curves(one_sided, title="t")
    assert "no ROC" in fig.axes[0].get_legend().get_texts()[0].get_text()
    with pytest.raises(TypeError, match="expected an Evaluation"):
        plot_roc_curves([1, 2])
    with pytest.raises(ValueError, match="needs a 'true' column"):
        plot_roc_curves(pd.DataFrame({"p_a": [1.0], "p_b": [0.0]}))


# --------------------------------------------------------------------------- Grad-CAM
@pytest.mark.usefixtures("one_torch_thread")
def test_grad_cam_mass_lies_on_the_evidence(blob_classifier):
    images, classes, corners = blobs(20, 7)
    assert np.mean(blob_classifier.predict_proba(images).argmax(axis=1) == classes) >= 0.9
    fractions, areas, peaks = [], [], []
    for image, (y0, x0) in zip(images[1::2], corners[1::2]):
        heat = grad_cam(blob_classifier, image, target="blob")
        assert heat.shape == image.shape and heat.max() == pytest.approx(1.0)
        near = np.zeros(heat.shape, bool)  # the square and 3 pixels around it
        near[max(y0 - 3, 0) : y0 + BOX + 3, max(x0 - 3, 0) : x0 + BOX + 3] = True
        fractions.append(heat[near].sum() / heat.sum())
        areas.append(near.mean())
        peaks.append(near.flat[np.argmax(heat)])
    assert np.median(fractions) >= 0.5  # uniform heat would give ~0.23
    assert np.mean(fractions) >= 2 * np.mean(areas)
    assert np.mean(peaks) >= 0.8


@pytest.mark.usefixtures("one_torch_thread")
def test_grad_cam_follows_the_image_size(blob_classifier):
    images = blobs(2, 3)[0]
    big = np.kron(images[1], np.ones((2, 2), np.float32))  # 48 x 48: resized to 24 x 24
    heat = grad_cam(blob_classifier, big, target=1)
    assert heat.shape == (48, 48)
    small = grad_cam(blob_classifier, images[1], target=1)
    coarse = heat.reshape(24, 2, 24, 2).mean(axis=(1, 3))
    assert np.corrcoef(coarse.ravel(), small.ravel())[0, 1] > 0.9
    assert grad_cam(blob_classifier, images[1][None]).shape == (24, 24)  # channel first


def test_back_to_image_by_hand():
    cam = np.arange(16, dtype=np.float32).reshape(4, 4)
    out = _back_to_image(cam, (2, 6), "pad")  # rows 1:3 of the input; columns 1:5 of the image
    expected = np.zeros((2, 6), np.float32)
    expected[:, 1:5] = cam[1:3]
    np.testing.assert_array_equal(out, expected)
    assert _back_to_image(cam, (4, 4), "resize") is cam
    np.testing.assert_allclose(_back_to_image(np.ones((4, 4)), (8, 8), "resize"), 1.0)


def test_overlay_and_sample_plot(blob_classifier, tmp_path):
    images, classes, _ = blobs(6, 5)
    heat = np.zeros((SIZE, SIZE), np.float32)
    rgb = grad_cam_overlay(images[0], heat, alpha=0.0)
    assert rgb.shape == (SIZE, SIZE, 3) and rgb.dtype == np.uint8
    assert np.array_equal(rgb[..., 0], rgb[..., 1])  # alpha 0: grey only
    volume = grad_cam_overlay(np.zeros((3, 4, 5)), np.ones((3, 4, 5)))
    assert volume.shape == (4, 5, 3)
    fig = plot_grad_cams(blob_classifier, images, classes, tmp_path / "cams.png", n=4, seed=0)
    assert len([a for a in fig.axes if a.images]) == 4 and (tmp_path / "cams.png").stat().st_size
    titles = [a.get_title() for a in fig.axes if a.images]
    assert all("true: " in t and "p=" in t for t in titles)
    names = ["empty", "blob", "empty"]
    assert len(plot_grad_cams(blob_classifier, images[:3], names, n=10).axes) == 3


def test_grad_cam_errors(blob_classifier):
    image = blobs(2, 0)[0][1]
    with pytest.raises(ValueError, match="not a class"):
        grad_cam(blob_classifier, image, target="cell")
    with pytest.raises(ValueError, match=r"class id in 0\.\.1"):
        grad_cam(blob_classifier, image, target=2)
    with pytest.raises(ValueError, match="a class id, a class name or None"):
        grad_cam(blob_classifier, image, target=True)
    with pytest.raises(TypeError, match="must be an ImageClassifier"):
        grad_cam(object(), image)
    with pytest.raises(RuntimeError, match="not trained"):
        grad_cam(ImageClassifier(), image)
    other = copy.copy(blob_classifier)
    other.model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(SIZE * SIZE, 2))
    with pytest.raises(ValueError, match="pass layer="):
        grad_cam(other, image)
    with pytest.raises(ValueError, match="heat has shape"):
        grad_cam_overlay(image, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="n must be a positive int"):
        plot_grad_cams(blob_classifier, [image], n=0)
    with pytest.raises(ValueError, match="labels has 2 entries for 1 images"):
        plot_grad_cams(blob_classifier, [image], [0, 1])


class TokenNet(torch.nn.Module):
    """A ViT-shaped network by hand: token = patch sum (x2 features), mean pool, linear head."""

    def __init__(self, patch: int, cls_token: bool):
        super().__init__()
        self.config = type("C", (), {"patch_size": patch})()
        self.embed = torch.nn.Conv2d(1, 2, patch, stride=patch, bias=False)
        torch.nn.init.constant_(self.embed.weight, 1.0)
        self.blocks = torch.nn.Sequential(torch.nn.Identity())
        self.head = torch.nn.Linear(2, 2)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, -1.0]]))
        self.cls = cls_token

    def forward(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)
        if self.cls:
            t = torch.cat([torch.zeros_like(t[:, :1]), t], dim=1)
        return self.head(self.blocks(t).mean(dim=1))


@pytest.mark.parametrize("cls_token", [False, True])
def test_grad_cam_on_patch_tokens_by_hand(blob_classifier, cls_token):
    # logit 0 = mean over tokens of 2 x patch sum: every token gets the same gradient, so
    # the map is relu(patch sum) on the 4 x 4 patch grid (then bilinear, divided by its max)
    other = copy.copy(blob_classifier)
    other.model = TokenNet(6, cls_token)
    image = np.zeros((SIZE, SIZE), np.float32)
    image[6:12, 12:18] = 1.0  # patch (1, 2)
    image[18:24, 0:6] = -1.0  # patch (3, 0): negative evidence, rectified away
    heat = grad_cam(other, image, target=0)
    assert np.unravel_index(np.argmax(heat), heat.shape)[0] // 6 == 1
    assert heat[6:12, 12:18].sum() / heat.sum() > 0.5 and heat[18:24, 0:6].max() < 0.05
    flat = grad_cam(other, image, target=1)  # the opposite class: only the dark patch
    assert flat[18:24, 0:6].sum() / flat.sum() > 0.5
    other.model.config = object()
    with pytest.raises(ValueError, match="patch tokens"):
        grad_cam(other, image)
    other.model.config = type("C", (), {"patch_size": 4})()
    with pytest.raises(ValueError, match="do not fit"):
        grad_cam(other, image)
