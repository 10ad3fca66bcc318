"""Point detection (spots, mitoses) with a heat-map U-Net: train, predict, evaluate, save, load.

The network predicts one heat-map channel per point class; training targets
are Gaussian blobs (:func:`biakit.nn.targets.point_heatmap`), predictions are
read back as local maxima (:func:`biakit.segment.find_peaks`) with a threshold
and minimum distance tuned on validation images. A trained model is a folder::

    config.json    the DetectionConfig (with the tuned threshold / min_distance),
                   U-Net config, input channels, versions
    weights.pt     model state dict (loaded with ``weights_only=True``)
    tuning.csv     F1 of every (threshold, min_distance) tried on validation images
    training/      metrics.csv, curves.png, checkpoints
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biakit.metrics import pooled_detection_counts
from biakit.workflows._base import UNetWorkflow, channels_first
from biakit.workflows._detection_config import DetectionConfig
from biakit.workflows._detection_io import load_point_pairs, read_points_csv, write_points_csv

__all__ = [
    "DetectionConfig",
    "Detector",
    "heatmap_loss",
    "load_point_pairs",
    "read_points_csv",
    "write_points_csv",
]


def heatmap_loss(kind: str = "bce", foreground_weight: float = 0.0) -> Any:
    """Loss ``callable(logits, target)`` for heat-map regression (``Trainer(loss_fn=...)``).

    ``"bce"``: binary cross-entropy with logits against the soft targets;
    ``"mse"``: squared error between ``sigmoid(logits)`` and the targets. Each
    voxel is weighted ``1 + foreground_weight * target`` (spots are sparse),
    and the weighted sum is divided by the sum of weights.

    Examples
    --------
    >>> import torch
    >>> loss = heatmap_loss("mse")
    >>> float(loss(torch.zeros(1, 1, 4, 4), torch.full((1, 1, 4, 4), 0.5)))
    0.0
    """
    import torch
    import torch.nn.functional as F

    if kind not in ("bce", "mse"):
        raise ValueError(f"loss must be 'bce' or 'mse', got {kind!r}")

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target = logits.float(), target.float()
        if kind == "bce":
            per_voxel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        else:
            per_voxel = (torch.sigmoid(logits) - target) ** 2
        weight = 1.0 + foreground_weight * target
        return (weight * per_voxel).sum() / weight.sum()

    return loss


class Detector(UNetWorkflow):
    """Point detection with a heat-map U-Net (2D or 3D, one or several classes).

    Parameters
    ----------
    config : DetectionConfig, optional
        Training and decoding options; defaults to a small 2D U-Net.

    Examples
    --------
    >>> from biakit.data import synthetic_spots
    >>> from biakit.workflows.detection import DetectionConfig, Detector
    >>> data = [synthetic_spots((64, 64), n_spots=8, seed=s) for s in range(3)]
    >>> config = DetectionConfig(patch_shape=(32, 32), samples_per_epoch=8,
    ...                          model={"depth": 2, "base_filters": 4}, train={"epochs": 1})
    >>> det = Detector(config)
    >>> _ = det.train([d.image for d in data], [d.points for d in data], output_dir=None)
    >>> points, classes, scores = det.predict(data[0].image)
    >>> points.shape[1], classes.dtype.kind, len(scores) == len(points)
    (2, 'i', True)
    """

    FORMAT = "biakit.detector"

    def __init__(self, config: DetectionConfig | None = None) -> None:
        super().__init__(config or DetectionConfig())
        self.tuning: Any = None

    @classmethod
    def config_class(cls) -> type:
        """Return :class:`DetectionConfig`."""
        return DetectionConfig

    # ------------------------------------------------------------------ training
    def train(
        self,
        images: Sequence[Any],
        points_list: Sequence[Any],
        classes_list: Sequence[Any] | None = None,
        *,
        output_dir: str | Path | None,
        val_images: Sequence[Any] | None = None,
        val_points: Sequence[Any] | None = None,
        val_classes: Sequence[Any] | None = None,
        progress: bool = False,
    ) -> Any:
        """Train on images and their point annotations, then tune the peak finder.

        Parameters
        ----------
        images : list of array_like
            ``(*spatial)`` or channel-first ``(C, *spatial)`` images.
        points_list : list of array_like
            Per image, ``(N, ndim)`` pixel coordinates of the points.
        classes_list : list of array_like, optional
            Per image, the class (``0..n_classes-1``) of each point.
        output_dir : str or Path or None
            Model folder (see the module docstring); None keeps it in memory.
        val_images, val_points, val_classes : list, optional
            Validation data (loss and tuning). Without it ``config.val_fraction``
            of the images are held out (by image, seeded); with a single image
            and no validation data, tuning uses the training image.
        progress : bool
            Show a progress bar.

        Returns
        -------
        pandas.DataFrame
            Per-epoch history.
        """
        cfg = self.config
        train_set = _prepare(images, points_list, classes_list, cfg, "")
        if val_images is None:
            if val_points is not None or val_classes is not None:
                raise ValueError("val_points / val_classes were given without val_images")
            val_set = None
            if cfg.val_fraction > 0 and len(train_set[0]) > 1:
                train_set, val_set = _split(train_set, cfg)
        else:
            if val_points is None:
                raise ValueError("val_images were given without val_points")
            val_set = _prepare(val_images, val_points, val_classes, cfg, "val_")

        def heatmaps(data: tuple) -> list[np.ndarray]:
            return [self._heatmap(p, c, im.shape[1:]) for im, p, c in zip(*data)]

        val = None if val_set is None else (val_set[0], heatmaps(val_set))
        self._fit(
            train_set[0], heatmaps(train_set), target_kind="continuous",
            out_channels=cfg.n_classes, output_dir=output_dir, val=val,
            loss_fn=heatmap_loss(cfg.loss, cfg.foreground_weight), progress=progress,
        )  # fmt: skip
        if cfg.tune:
            self.tune(*(val_set or train_set))
        if output_dir is not None:
            self.save(output_dir)
        return self.history

    def _heatmap(self, points: np.ndarray, classes: np.ndarray, shape: tuple[int, ...]):
        from biakit.nn.targets import point_heatmap

        cfg = self.config
        return point_heatmap(
            points, shape, sigma=cfg.sigma, classes=classes, n_classes=cfg.n_classes,
            spacing=cfg.spacing, subpixel=cfg.subpixel_targets,
        )  # fmt: skip

    def tune(
        self,
        images: Sequence[Any],
        points_list: Sequence[Any],
        classes_list: Sequence[Any] | None = None,
    ) -> Any:
        """Pick ``threshold`` and ``min_distance`` maximising the pooled F1 on these images.

        Every pair of ``config.threshold_grid`` x ``config.distance_grid()`` is
        scored with :func:`biakit.metrics.match_points` at ``config.tolerance``
        (classes must match when ``n_classes > 1``); counts are pooled over the
        images. Ties go to the threshold nearest 0.5, then the smaller
        ``min_distance``. The winner is stored in ``self.config``; the table of
        all pairs (a DataFrame) in ``self.tuning`` and returned.
        """
        import pandas as pd

        from biakit.segment import find_peaks

        cfg = self.config
        data = _prepare(images, points_list, classes_list, cfg, "")
        heatmaps = [self.predict_heatmap(im) for im in data[0]]
        thresholds = sorted(cfg.threshold_grid)
        rows = []
        for md in cfg.distance_grid():
            counts = np.zeros((len(thresholds), 3))  # tp, n_true, n_pred
            for heat, pts, cls in zip(heatmaps, data[1], data[2]):
                found = find_peaks(
                    heat, threshold=thresholds[0], min_distance=md, spacing=cfg.spacing,
                    subpixel=cfg.subpixel,
                )  # fmt: skip
                for k, thr in enumerate(thresholds):
                    keep = found[2] >= thr
                    m = self._match(pts, cls, found[0][keep], found[1][keep], cfg.tolerance)
                    counts[k] += (m.tp, m.n_true, m.n_pred)
            for k, thr in enumerate(thresholds):
                tp, n_true, n_pred = counts[k]
                rows.append({
                    "threshold": thr, "min_distance": md,
                    "precision": tp / n_pred if n_pred else 0.0,
                    "recall": tp / n_true if n_true else 0.0,
                    "f1": 2 * tp / (n_true + n_pred) if n_true + n_pred else 0.0,
                })  # fmt: skip
        table = pd.DataFrame(rows)
        key = table["f1"] * 1e6 - (table["threshold"] - 0.5).abs() * 1e2 - table["min_distance"]
        best = table.loc[key.idxmax()]
        self.config = cfg.model_copy(
            update={"threshold": float(best.threshold), "min_distance": float(best.min_distance)}
        )
        self.tuning = table
        return table

    def _match(self, true_pts, true_cls, pred_pts, pred_cls, tolerance: float) -> Any:
        from biakit.metrics import match_points

        multi = self.config.n_classes > 1
        return match_points(
            true_pts, pred_pts, tolerance=tolerance, spacing=self.config.spacing,
            classes_true=true_cls if multi else None, classes_pred=pred_cls if multi else None,
        )  # fmt: skip

    # ---------------------------------------------------------------- prediction
    def predict_heatmap(self, image: Any, *, tta: bool = False, **kwargs: Any) -> np.ndarray:
        """Heat maps ``(n_classes, *spatial)`` in [0, 1] (sigmoid), tile by tile.

        Extra keywords go to :func:`biakit.nn.infer.predict_tiled`.
        """
        return self._raw(image, activation="sigmoid", tta=tta, **kwargs)

    def predict(
        self,
        image: Any,
        *,
        threshold: float | None = None,
        min_distance: float | None = None,
        **kwargs: Any,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Detect points: ``(points float64 (N, ndim), classes int64 (N,), scores float32 (N,))``.

        ``threshold`` / ``min_distance`` default to the tuned values in the
        config; other keywords go to :meth:`predict_heatmap`.
        """
        from biakit.segment import find_peaks

        cfg = self.config
        return find_peaks(
            self.predict_heatmap(image, **kwargs),
            threshold=cfg.threshold if threshold is None else threshold,
            min_distance=cfg.min_distance if min_distance is None else min_distance,
            spacing=cfg.spacing, subpixel=cfg.subpixel,
        )  # fmt: skip

    def evaluate(
        self,
        images: Sequence[Any],
        points_list: Sequence[Any],
        classes_list: Sequence[Any] | None = None,
        *,
        tolerance: float | None = None,
    ) -> dict[str, Any]:
        """Precision, recall, F1 per image and pooled (:func:`biakit.metrics.match_points`).

        ``tolerance`` defaults to ``config.tolerance`` (pixels, or physical with
        ``config.spacing``); with ``n_classes > 1`` points match within a class.
        """
        tol = self.config.tolerance if tolerance is None else float(tolerance)
        data = _prepare(images, points_list, classes_list, self.config, "")
        per_image = []
        for im, pts, cls in zip(*data):
            found = self.predict(im)
            per_image.append(self._match(pts, cls, found[0], found[1], tol).as_dict())
        pooled = pooled_detection_counts(per_image)
        return {"pooled": pooled, "per_image": per_image, "tolerance": tol}

    # ---------------------------------------------------------------- persistence
    def save(self, path: str | Path, *, overwrite: bool = True) -> Path:
        """Write config.json, weights.pt (and tuning.csv) into ``path``, each file atomically."""
        from biakit._atomic import atomic_write_text

        if self.model is None:
            raise RuntimeError("this Detector is not trained; nothing to save")
        path = super().save(path, overwrite=overwrite)
        if self.tuning is not None:
            atomic_write_text(path / "tuning.csv", self.tuning.to_csv(index=False), overwrite=True)
        return path


def _prepare(images, points_list, classes_list, cfg: DetectionConfig, prefix: str):
    """Validate and normalise (images, points, classes) lists."""
    images = [channels_first(im, cfg.ndim) for im in images]
    points_list = list(points_list)
    if len(images) != len(points_list) or not images:
        raise ValueError(
            f"got {len(images)} {prefix}image(s) and {len(points_list)} point array(s); "
            "need one point array per image, and at least one image"
        )
    if classes_list is None:
        classes_list = [None] * len(images)
    elif len(classes_list) != len(images):
        raise ValueError(f"got {len(classes_list)} class arrays for {len(images)} images")
    points, classes = [], []
    for i, (im, pts, cls) in enumerate(zip(images, points_list, classes_list)):
        arr = np.asarray(pts, dtype=np.float64)
        arr = arr.reshape(0, cfg.ndim) if arr.size == 0 else arr
        if arr.ndim != 2 or arr.shape[1] != cfg.ndim:
            raise ValueError(
                f"{prefix}points[{i}] has shape {arr.shape}; expected (N, {cfg.ndim}) "
                f"coordinates for {cfg.ndim}-D images"
            )
        outside = ~np.all((arr >= -0.5) & (arr <= np.subtract(im.shape[1:], 0.5)), axis=1)
        if outside.any():
            raise ValueError(
                f"{prefix}points[{i}] has {int(outside.sum())} point(s) outside the image of "
                f"spatial shape {im.shape[1:]}, e.g. {arr[outside][0].tolist()}; coordinates "
                "must be pixels in array axis order (y, x) or (z, y, x)"
            )
        c = np.zeros(len(arr), np.int64) if cls is None else np.asarray(cls).ravel()
        if c.size != len(arr) or (c.size and (c.min() < 0 or c.max() >= cfg.n_classes)):
            raise ValueError(
                f"{prefix}classes[{i}] must hold one class in 0..{cfg.n_classes - 1} per point "
                f"(set n_classes); got {c.size} values for {len(arr)} points"
            )
        points.append(arr)
        classes.append(c.astype(np.int64))
    return images, points, classes


def _split(data, cfg: DetectionConfig):
    from biakit.model_selection import train_val_test_split

    split = train_val_test_split(len(data[0]), val=cfg.val_fraction, test=0.0, seed=cfg.seed)
    train = tuple([xs[i] for i in split.train] for xs in data)
    val = tuple([xs[i] for i in split.val] for xs in data)
    return train, val
