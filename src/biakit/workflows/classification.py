"""Image classification with a small ResNet or a tiny ViT: one class per image (or crop), 2D / 3D.

Images of any size and channel count (the same for all) are brought to the
config's ``input_shape`` (resized or padded) and normalised on their own; the
class names, the input shape and the class weights are stored with the model
(``model.json``, ``training``). Prediction gives per-class probabilities
(``predict_maps``) and the arg-max class id (``predict``); ``predict_to_disk``
writes ``predictions.csv`` (one row per image, a probability column per class)
and :func:`write_classification_report` the ``report.csv``,
``confusion_matrix.csv`` and ``confusion_matrix.png`` of an evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biakit.errors import DataError
from biakit.workflows._base import channels_first
from biakit.workflows._classification_config import ClassificationConfig
from biakit.workflows._classification_io import (  # noqa: F401 (public here too)
    _class_ids,
    classification_training_data,
    load_classification_data,
    write_classification_report,
)
from biakit.workflows._network import NetworkWorkflow, _check_finite
from biakit.workflows._results import Evaluation


def fit_shape(image: np.ndarray, shape: Sequence[int], mode: str = "resize") -> np.ndarray:
    """Bring a channel-first image ``(C, *spatial)`` to spatial ``shape`` (float32).

    ``"resize"``: linear interpolation with anti-aliasing (aspect not kept);
    ``"pad"``: centred, padded with the channel's median or cropped centrally.

    Examples
    --------
    >>> fit_shape(np.ones((1, 10, 30)), (16, 16)).shape
    (1, 16, 16)
    >>> fit_shape(np.arange(4.0).reshape(1, 2, 2), (1, 4), mode="pad").tolist()
    [[[1.5, 0.0, 1.0, 1.5]]]
    """
    image = np.asarray(image, dtype=np.float32)
    shape = tuple(int(s) for s in shape)
    if image.shape[1:] == shape:
        return image
    if mode == "resize":
        from skimage.transform import resize

        anti = any(a > b for a, b in zip(image.shape[1:], shape))
        out = [resize(c, shape, order=1, anti_aliasing=anti, preserve_range=True) for c in image]
        return np.stack(out).astype(np.float32)
    if mode != "pad":
        raise ValueError(f"mode must be 'resize' or 'pad', got {mode!r}")
    out = np.empty((image.shape[0], *shape), np.float32)
    out[:] = np.median(image.reshape(image.shape[0], -1), axis=1).reshape(-1, *[1] * len(shape))
    src, dst = [], []
    for n, m in zip(image.shape[1:], shape):
        k = min(n, m)
        a, b = (n - k) // 2, (m - k) // 2
        src.append(slice(a, a + k))
        dst.append(slice(b, b + k))
    out[(slice(None), *dst)] = image[(slice(None), *src)]
    return out


class ClassificationDataset:
    """Map-style dataset of prepared images ``(C, *input_shape)`` and class ids (augmented)."""

    def __init__(self, images: list, labels: np.ndarray, augmenter: Any, seed: int) -> None:
        self.images, self.labels, self.augmenter, self.seed = images, labels, augmenter, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw different augmentations each epoch (reproducibly)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        import torch

        x = self.images[i]
        if self.augmenter is not None:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            x, _ = self.augmenter(x, None, rng=rng)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.tensor(int(self.labels[i]))


class ImageClassifier(NetworkWorkflow):
    """Classify whole images (or object crops) with a small 2D / 3D ResNet or a tiny ViT.

    ``config.network`` picks the network (``"resnet_small"`` by default, or
    ``"vit_tiny"``); the model folder records it, so :func:`load_model` rebuilds it.

    Examples
    --------
    >>> from biakit.data._phenotypes import phenotype_crops
    >>> crops = phenotype_crops(4, (24, 24), seed=0)
    >>> cfg = ClassificationConfig(input_shape=(24, 24), model={"base_filters": 4},
    ...                            train={"epochs": 1, "batch_size": 4})
    >>> clf = ImageClassifier(cfg)
    >>> _ = clf.train(crops.images, crops.labels, class_names=crops.class_names)
    >>> clf.predict_maps(crops.images[0]).shape, clf.predict(crops.images[0]) in (0, 1, 2)
    ((3,), True)
    """

    task = "classification"
    config_class = ClassificationConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._last_probs: np.ndarray | None = None  # handed from _write_outputs to _table

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the classes, in class-id order."""
        return tuple(self.training.get("class_names", ()))

    # ------------------------------------------------------------------ training
    def train(
        self,
        images: Sequence[Any],
        labels: Sequence[Any],
        *,
        class_names: Sequence[str] | None = None,
        output_dir: str | Path | None = None,
        val_images: Sequence[Any] | None = None,
        val_labels: Sequence[Any] | None = None,
        resume: bool = False,
        overwrite: bool = False,
        progress: bool = False,
    ) -> Any:
        """Train on images and their class ids (ints ``0..n-1``) or class names.

        Without validation data ``config.val_fraction`` of each class is held
        out (seeded, stratified). The cross-entropy is weighted by inverse class
        frequency unless ``config.class_weighting="none"``. ``output_dir``,
        ``resume`` and ``overwrite`` work as in :meth:`SemanticSegmenter.train`.
        Returns the history.
        """
        from biakit.nn.augment import Augmenter
        from biakit.nn.train import make_loss

        cfg = self.config
        names = class_names or cfg.class_names
        y, names = _class_ids(labels, names, cfg.n_classes, "labels")
        xs = self._prepare_all(images, "images")
        if len(xs) != len(y):
            raise DataError(f"got {len(xs)} image(s) and {len(y)} label(s); need equal counts")
        self._set_classes(xs, names)
        if val_images is not None:
            vy, _ = _class_ids(val_labels, names, len(names), "val_labels")
            val = (self._prepare_all(val_images, "val_images"), vy)
        else:
            xs, y, val = _stratified_split(xs, y, cfg.val_fraction, cfg.seed)
        weights = self._class_weights(y, len(names))
        self.training["class_counts"] = np.bincount(y, minlength=len(names)).tolist()
        aug = Augmenter(cfg.augment, ndim=cfg.ndim)
        train_ds = ClassificationDataset(xs, y, aug, cfg.seed)
        val_ds = ClassificationDataset(val[0], val[1], None, cfg.seed) if val else None
        work = self._train_network(
            train_ds, val_ds, n_images=len(xs), output_dir=output_dir,
            loss_fn=make_loss("ce", weights), metrics=_accuracy, resume=resume,
            overwrite=overwrite, progress=progress,
        )  # fmt: skip
        recalibrate_batchnorm(self.model, xs, cfg.train.batch_size)
        self._finish(work, output_dir, overwrite=overwrite)
        return self.history

    def _set_classes(self, xs: list[np.ndarray], names: tuple[str, ...]) -> None:
        cfg = self.config
        self._set_network_config(xs)
        net = {**self.network_config.model_dump(), "out_channels": len(names)}
        self.network_config = type(self.network_config).model_validate(net)
        self.training = {"class_names": list(names), "input_shape": list(cfg.input_shape),
                         "resize": cfg.resize}  # fmt: skip

    def _class_weights(self, y: np.ndarray, n: int) -> list[float] | None:
        cfg = self.config
        if cfg.train.class_weights is not None:
            if len(cfg.train.class_weights) != n:
                raise DataError(f"train.class_weights has {len(cfg.train.class_weights)} "
                                f"entries for {n} classes")  # fmt: skip
            weights = [float(w) for w in cfg.train.class_weights]
        elif cfg.class_weighting == "balanced":
            counts = np.bincount(y, minlength=n).astype(float)
            weights = (len(y) / (n * np.maximum(counts, 1.0))).tolist()
        else:
            weights = None
        self.training["class_weights"] = weights
        return weights

    def _prepare_all(self, images: Sequence[Any], name: str) -> list[np.ndarray]:
        if images is None or hasattr(images, "shape") or isinstance(images, str | bytes):
            raise DataError(f"{name} must be a list of images (one array per image)")
        out = [self._prepare(im, f"{name}[{i}]") for i, im in enumerate(images)]
        if not out:
            raise DataError(f"{name} is empty; give at least one image")
        return out

    def _prepare(self, image: Any, name: str = "image") -> np.ndarray:
        """Channel first, finite, brought to ``input_shape``, normalised (float32)."""
        cfg = self.config
        array = channels_first(image, cfg.ndim, name=name)
        _check_finite(array, name)
        return cfg.normalizer(fit_shape(array, cfg.input_shape, cfg.resize)).astype(np.float32)

    # ---------------------------------------------------------------- prediction
    def predict_proba(self, images: Sequence[Any], *, tta: bool = False, batch_size: int = 64,
                      amp: str | None = None) -> np.ndarray:  # fmt: skip
        """Class probabilities ``(N, n_classes)`` of a list of images, in batches.

        ``amp`` (default: ``config.train.amp``, as trained): ``"auto"`` computes in
        bfloat16 where the device does so natively, ``"none"`` in float32.
        """
        import torch

        from biakit.nn.infer._predict import _amp_dtype, guarded_forward

        self._require_trained()
        xs = [self._checked(im, f"images[{i}]") for i, im in enumerate(images)]
        if not xs:
            return np.zeros((0, len(self.class_names)), np.float32)
        device = next(self.model.parameters()).device
        dtype = _amp_dtype(self.config.train.amp if amp is None else amp, device)
        self.model.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(xs), batch_size):
                x = torch.from_numpy(np.stack(xs[start : start + batch_size])).to(device)
                views = [x] if not tta else [x, *(x.flip(d) for d in range(2, x.dim()))]
                logits = (guarded_forward(self.model, v, dtype) for v in views)
                probs = sum(torch.softmax(y, dim=1) for y in logits)
                out.append((probs / len(views)).cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def _checked(self, image: Any, name: str) -> np.ndarray:
        x = self._prepare(image, name)
        if x.shape[0] != self.in_channels:
            raise DataError(f"{name} has {x.shape[0]} channel(s); the model was trained on "
                            f"{self.in_channels}")  # fmt: skip
        return x

    def predict_maps(self, image: Any, *, tta: bool = False, **kwargs: Any) -> np.ndarray:
        """Per-class probabilities ``(n_classes,)`` (softmax; ``tta`` averages over flips).

        ``amp`` may be given as in :meth:`predict_proba`; other keywords are ignored.
        """
        self._require_trained()
        return self.predict_proba([image], tta=tta, amp=kwargs.get("amp"))[0]

    def postprocess(self, maps: np.ndarray) -> int:
        """Return the class id with the highest probability."""
        return int(np.argmax(maps))

    def evaluate(self, images: Sequence[Any], labels: Sequence[Any]) -> Evaluation:
        """Score the classifier on labelled images (class ids or names).

        Per-class precision / recall / F1 / support, macro and weighted averages,
        balanced accuracy and one-vs-rest ROC AUC (:func:`classification_metrics`).

        ``per_image``: image, true and predicted class ids and names, a
        probability column ``p_NAME`` per class; ``summary``: one row of averages.
        """
        from biakit.metrics.classification import classification_metrics

        self._require_trained()
        names = self.class_names
        y, _ = _class_ids(labels, names, len(names), "labels")
        if len(y) != len(images):
            raise DataError(f"got {len(images)} image(s) and {len(y)} label(s); need equal")
        probs = self.predict_proba(images)
        m = classification_metrics(y, probabilities=probs, class_names=names)
        pred = probs.argmax(axis=1)
        table = pd.DataFrame({"image": np.arange(len(y)), "true": y, "predicted": pred,
                              "true_class": [names[i] for i in y],
                              "predicted_class": [names[i] for i in pred]})  # fmt: skip
        for k, name in enumerate(names):
            table[f"p_{name}"] = probs[:, k]
        return Evaluation(self.task, m, table, pd.DataFrame([m.summary()]))

    # hooks of predict_to_disk
    def _output_names(self, stem: str, out: Path, *, maps: bool, overlay: bool) -> dict:
        return {}

    def _batch_outputs(self, out: Path) -> list[Path]:
        return [out / "predictions.csv"]

    def _write_outputs(self, names: dict, *, image: np.ndarray, meta: Any, raw: Any, result: Any,
                       overwrite: bool) -> list[Path]:  # fmt: skip
        self._last_probs = np.asarray(raw)
        return []

    def _table(self, result: Any, image: np.ndarray, meta: Any, path: Path) -> Any:
        row = {"file": str(path), "class_id": int(result), "class": self.class_names[result]}
        row.update({f"p_{n}": float(p) for n, p in zip(self.class_names, self._last_probs)})
        return row

    def _write_batch(self, tables: list, out: Path, *, overwrite: bool) -> None:
        from biakit.measure import write_table

        if tables:  # files named relative to the inputs' common folder (class folders stay apart)
            import os

            paths = [Path(t["file"]) for t in tables]
            root = Path(os.path.commonpath([str(p.resolve().parent) for p in paths]))
            rows = [{**t, "file": str(p.resolve().relative_to(root))}
                    for t, p in zip(tables, paths)]  # fmt: skip
            write_table(pd.DataFrame(rows), out / "predictions.csv", overwrite=True)

    def _count(self, result: Any) -> int:
        return 1

    def _read_state(self, path: Path, manifest: dict[str, Any]) -> None:
        from biakit.errors import ModelFileError
        from biakit.workflows import _folder

        super()._read_state(path, manifest)
        if len(self.class_names) != self.network_config.out_channels:
            raise ModelFileError(
                f"{path / _folder.MANIFEST}: training.class_names has {len(self.class_names)} "
                f"names but the network has {self.network_config.out_channels} outputs"
            )


def recalibrate_batchnorm(model: Any, images: list[np.ndarray], batch_size: int = 32) -> None:
    """Recompute batch-norm running statistics of ``model`` on ``images`` ("precise BN").

    During a short training the weights move fast and the exponential running
    averages lag behind them, so prediction (eval mode) differs from training;
    one pass over the (unaugmented) training images with a cumulative average
    makes them exact for the final weights. Models without batch norm are left alone.
    """
    import torch
    from torch import nn

    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or not images:
        return
    device = next(model.parameters()).device
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    model.train()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            model(torch.from_numpy(np.stack(images[start : start + batch_size])).to(device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()


def _accuracy(logits: Any, target: Any) -> dict[str, float]:
    return {"accuracy": float((logits.argmax(dim=1) == target).float().mean())}


def _stratified_split(xs: list, y: np.ndarray, fraction: float, seed: int) -> tuple:
    """Hold out ``fraction`` of each class with >= 2 images (at least one each, seeded)."""
    if fraction <= 0:
        return xs, y, None
    rng = np.random.default_rng(seed)
    held = []
    for k in np.unique(y):
        idx = np.flatnonzero(y == k)
        if len(idx) >= 2:
            held.extend(rng.permutation(idx)[: max(1, round(fraction * len(idx)))])
    if not held:
        return xs, y, None
    keep = np.setdiff1d(np.arange(len(y)), held)
    held = np.sort(np.asarray(held))
    return [xs[i] for i in keep], y[keep], ([xs[i] for i in held], y[held])
