"""Point detection (spots, mitoses) with a heat-map U-Net: train, predict, evaluate, save, load.

The network predicts one heat-map channel per point class; training targets
are Gaussian blobs (:func:`biakit.nn.targets.point_heatmap`), predictions are
read back as local maxima (:func:`biakit.segment.find_peaks`) with a threshold
and minimum distance tuned on validation images. A trained model is a folder::

    model.json       manifest (task, architecture, network config, training summary)
    config.json      the DetectionConfig as given
    weights.pt       model state dict (loaded with ``weights_only=True``)
    thresholds.json  the tuned threshold / min_distance
    tuning.csv       F1 of every (threshold, min_distance) tried on validation images
    training/        metrics.csv, curves.png, checkpoints
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import DataError
from biakit.workflows._base import channels_first
from biakit.workflows._detection_config import DetectionConfig
from biakit.workflows._detection_io import load_point_pairs, read_points_csv, write_points_csv
from biakit.workflows._disk import DensityRange
from biakit.workflows._network import NetworkWorkflow
from biakit.workflows._results import Evaluation

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


class Detector(NetworkWorkflow):
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
    >>> _ = det.train([d.image for d in data], [d.points for d in data])
    >>> points, classes, scores = det.predict(data[0].image)
    >>> points.shape[1], classes.dtype.kind, len(scores) == len(points)
    (2, 'i', True)
    >>> sorted(det.thresholds)
    ['min_distance', 'threshold']
    """

    task = "detection"
    config_class = DetectionConfig

    def __init__(self, config: DetectionConfig | None = None) -> None:
        super().__init__(config)
        self.tuning: Any = None

    # ------------------------------------------------------------------ training
    def train(
        self,
        images: Sequence[Any],
        points_list: Sequence[Any],
        classes_list: Sequence[Any] | None = None,
        *,
        output_dir: str | Path | None = None,
        val_images: Sequence[Any] | None = None,
        val_points: Sequence[Any] | None = None,
        val_classes: Sequence[Any] | None = None,
        resume: bool = False,
        overwrite: bool = False,
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
        resume, overwrite : bool
            Continue an interrupted run in ``output_dir`` / start afresh there.
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
                raise DataError("val_points / val_classes were given without val_images")
            val_set = None
            if cfg.val_fraction > 0 and len(train_set[0]) > 1:
                train_set, val_set = _split(train_set, cfg)
        else:
            if val_points is None:
                raise DataError("val_images were given without val_points")
            val_set = _prepare(val_images, val_points, val_classes, cfg, "val_")

        def heatmaps(data: tuple) -> list[np.ndarray]:
            return [self._heatmap(p, c, im.shape[1:]) for im, p, c in zip(*data)]

        density = DensityRange("points per million pixels")
        density.values += [1e6 * len(p) / np.prod(im.shape[1:]) for im, p in zip(*train_set[:2])]
        self.training = {"density": density.as_dict()}
        self.thresholds = {"threshold": cfg.threshold, "min_distance": cfg.min_distance}
        val = None if val_set is None else (val_set[0], heatmaps(val_set))
        work = self._fit(
            train_set[0], heatmaps(train_set), target_kind="continuous", output_dir=output_dir,
            val=val, loss_fn=heatmap_loss(cfg.loss, cfg.foreground_weight), resume=resume,
            overwrite=overwrite, progress=progress,
        )  # fmt: skip
        if cfg.tune:
            self.tune(*(val_set or train_set))
        self._finish(work, output_dir, overwrite=overwrite)
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
        ``min_distance``. The winner goes to ``self.thresholds`` (saved as
        ``thresholds.json``; the config is left as it was); the table of all
        pairs (a DataFrame) to ``self.tuning``, and is returned.
        """
        import pandas as pd

        from biakit.segment import find_peaks

        cfg = self.config
        data = _prepare(images, points_list, classes_list, cfg, "")
        heatmaps = [self.predict_maps(im) for im in data[0]]
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
        self.thresholds = {"threshold": float(best.threshold),
                           "min_distance": float(best.min_distance)}  # fmt: skip
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
    def predict_maps(self, image: Any, *, tta: bool = False, **kwargs: Any) -> np.ndarray:
        """Heat maps ``(n_classes, *spatial)`` in [0, 1] (sigmoid), tile by tile.

        Extra keywords go to :func:`biakit.nn.infer.predict_tiled`.
        """
        return self._raw(image, activation="sigmoid", tta=tta, **kwargs)

    def predict_heatmap(self, image: Any, **kwargs: Any) -> np.ndarray:
        """Alias of :meth:`predict_maps`, kept from biakit 0.1."""
        return self.predict_maps(image, **kwargs)

    def postprocess(
        self, maps: np.ndarray, *, threshold: float | None = None, min_distance: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Local maxima of the heat maps: ``(points (N, ndim), classes (N,), scores (N,))``.

        ``threshold`` / ``min_distance`` default to the tuned values
        (``self.thresholds``), else to the config's.
        """
        from biakit.segment import find_peaks

        cfg = self.config
        tuned = self.thresholds or {"threshold": cfg.threshold, "min_distance": cfg.min_distance}
        return find_peaks(
            maps,
            threshold=tuned["threshold"] if threshold is None else threshold,
            min_distance=tuned["min_distance"] if min_distance is None else min_distance,
            spacing=cfg.spacing, subpixel=cfg.subpixel,
        )  # fmt: skip

    def predict(
        self,
        image: Any,
        *,
        threshold: float | None = None,
        min_distance: float | None = None,
        **kwargs: Any,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Detect points: ``(points float64 (N, ndim), classes int64 (N,), scores float32 (N,))``.

        ``threshold`` / ``min_distance`` default to the tuned values; other
        keywords go to :meth:`predict_maps`.
        """
        maps = self.predict_maps(image, **kwargs)
        return self.postprocess(maps, threshold=threshold, min_distance=min_distance)

    def evaluate(
        self,
        images: Sequence[Any],
        points_list: Sequence[Any],
        classes_list: Sequence[Any] | None = None,
        *,
        tolerance: float | None = None,
    ) -> Evaluation:
        """Precision, recall, F1 pooled (counts summed over images) and per image.

        ``tolerance`` defaults to ``config.tolerance`` (pixels, or physical with
        ``config.spacing``); with ``n_classes > 1`` points match within a class.
        """
        import pandas as pd

        from biakit.metrics import pool_detection_matchings
        from biakit.validation import check_positive

        tol = self.config.tolerance if tolerance is None else check_positive(
            tolerance, name="tolerance")  # fmt: skip
        data = _prepare(images, points_list, classes_list, self.config, "")
        matchings = []
        for im, pts, cls in zip(*data):
            found = self.predict(im)
            matchings.append(self._match(pts, cls, found[0], found[1], tol))
        pooled = pool_detection_matchings(matchings)
        rows = [{"image": i, "tolerance": tol, **m.as_dict()} for i, m in enumerate(matchings)]
        summary = pd.DataFrame([{"tolerance": tol, **pooled.as_dict()}])
        return Evaluation(self.task, pooled, pd.DataFrame(rows), summary)

    # ---------------------------------------------------------------- persistence
    def _write_folder(self, folder: Path) -> None:
        super()._write_folder(folder)
        if self.tuning is not None:
            self.tuning.to_csv(folder / "tuning.csv", index=False)

    # hooks of predict_to_disk
    def _output_names(self, stem: str, out: Path, *, maps: bool, overlay: bool) -> dict:
        names = super()._output_names(stem, out, maps=maps, overlay=overlay)
        del names["labels"]
        return {"points": out / f"{stem}_points.csv", **names}

    def _write_outputs(self, names: dict, *, image: np.ndarray, meta: Any, raw: Any, result: Any,
                       overwrite: bool) -> list[Path]:  # fmt: skip
        from biakit.io import ImageMeta, write_image, write_points_csv
        from biakit.nn.targets import point_heatmap
        from biakit.segment import label
        from biakit.visualize import overlay_labels

        points, classes, scores = result
        write_points_csv(names["points"], points, classes, scores, axes=meta.spatial_axes,
                         overwrite=overwrite)  # fmt: skip
        if "maps" in names:
            cmeta = ImageMeta("C" + meta.spatial_axes, (1.0, *meta.spatial_spacing),
                              unit=meta.unit)  # fmt: skip
            write_image(names["maps"], raw.astype(np.float32), cmeta, overwrite=overwrite)
        if "overlay" in names:
            dots = point_heatmap(points, image.shape[1:], sigma=1.5)[0] > 0.3
            rgb = overlay_labels(image[0], label(dots), alpha=0.8)
            write_image(names["overlay"], rgb, ImageMeta("YXC", unit="pixel"), overwrite=overwrite)
        return list(names.values())

    def _count(self, result: Any) -> int:
        return len(result[0])

    def _density(self, result: Any, shape: tuple[int, ...]) -> float:
        return 1e6 * len(result[0]) / max(int(np.prod(shape)), 1)


def _prepare(images, points_list, classes_list, cfg: DetectionConfig, prefix: str):
    """Validate and normalise (images, points, classes) lists."""
    images = [channels_first(im, cfg.ndim, name=f"{prefix}images[{i}]")
              for i, im in enumerate(images)]  # fmt: skip
    points_list = list(points_list)
    if len(images) != len(points_list) or not images:
        raise DataError(
            f"got {len(images)} {prefix}image(s) and {len(points_list)} point array(s); "
            "need one point array per image, and at least one image"
        )
    if classes_list is None:
        classes_list = [None] * len(images)
    elif len(classes_list) != len(images):
        raise DataError(f"got {len(classes_list)} class arrays for {len(images)} images")
    points, classes = [], []
    for i, (im, pts, cls) in enumerate(zip(images, points_list, classes_list)):
        arr = np.asarray(pts, dtype=np.float64)
        arr = arr.reshape(0, cfg.ndim) if arr.size == 0 else arr
        if arr.ndim != 2 or arr.shape[1] != cfg.ndim:
            raise DataError(
                f"{prefix}points[{i}] has shape {arr.shape}; expected (N, {cfg.ndim}) "
                f"coordinates for {cfg.ndim}-D images"
            )
        outside = ~np.all((arr >= -0.5) & (arr <= np.subtract(im.shape[1:], 0.5)), axis=1)
        if outside.any():
            raise DataError(
                f"{prefix}points[{i}] has {int(outside.sum())} point(s) outside the image of "
                f"spatial shape {im.shape[1:]}, e.g. {arr[outside][0].tolist()}; coordinates "
                "must be pixels in array axis order (y, x) or (z, y, x)"
            )
        c = np.zeros(len(arr), np.int64) if cls is None else np.asarray(cls).ravel()
        if c.size != len(arr) or (c.size and (c.min() < 0 or c.max() >= cfg.n_classes)):
            raise DataError(
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
