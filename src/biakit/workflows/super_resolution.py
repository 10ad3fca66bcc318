"""Super-resolution: a network trained on low/high-resolution pairs puts ``scale`` x more pixels.

Pairs come from the user (low- and high-resolution images of the same field) or
are made from high-resolution images alone with a declared degradation
(:func:`biakit.nn.datasets.degrade`: blur, binning, noise). Each image is
normalised with the statistics of its low-resolution version; the prediction
is de-normalised with the same statistics, so outputs keep the input's
intensity scale. Prediction is tiled with the network's receptive field
(:func:`biakit.nn.infer.predict_tiled_scaled`), exact for EDSR-lite.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import DataError
from biakit.workflows._base import channels_first
from biakit.workflows._network import NetworkWorkflow, _check_finite
from biakit.workflows._results import Evaluation
from biakit.workflows._sr_config import SuperResolutionConfig


class SuperResolver(NetworkWorkflow):
    """2D x2 / x4 and anisotropic 3D super-resolution (EDSR-lite or RCAN-lite).

    Parameters
    ----------
    config : SuperResolutionConfig, optional
        Training options; defaults to a 2D x2 EDSR-lite.

    Examples
    --------
    >>> from biakit.data import low_high_resolution_pair
    >>> from biakit.workflows import SuperResolutionConfig, SuperResolver
    >>> highs = [low_high_resolution_pair((64, 64), seed=s)[1] for s in range(2)]
    >>> cfg = SuperResolutionConfig(scale=2, patch_shape=(16, 16), samples_per_epoch=4,
    ...                             model={"n_features": 4, "n_blocks": 1}, train={"epochs": 1})
    >>> sr = SuperResolver(cfg)
    >>> _ = sr.train(highs)                      # low resolution made by degradation
    >>> sr.predict(np.zeros((20, 24), np.float32)).shape
    (40, 48)
    """

    task = "super_resolution"
    config_class = SuperResolutionConfig
    timelapse_frames = True

    @property
    def factors(self) -> tuple[int, ...]:
        """Up-sampling factor per spatial axis."""
        return self.config.model.factors

    def train(
        self,
        images: Sequence[Any],
        targets: Sequence[Any] | None = None,
        *,
        output_dir: str | Path | None = None,
        val_images: Sequence[Any] | None = None,
        val_targets: Sequence[Any] | None = None,
        resume: bool = False,
        overwrite: bool = False,
        progress: bool = False,
    ) -> Any:
        """Train on low/high pairs, or on high-resolution images alone.

        Parameters
        ----------
        images : list of array_like
            Low-resolution images when ``targets`` are given; otherwise the
            high-resolution images, degraded with ``config.degradation``.
        targets : list of array_like, optional
            High-resolution images, ``scale`` times larger than ``images``.
        output_dir, val_images, val_targets, resume, overwrite, progress
            As :meth:`biakit.workflows.SemanticSegmenter.train`.

        Returns
        -------
        pandas.DataFrame
            Per-epoch history.
        """
        from biakit.nn.datasets import ScaledPairDataset

        cfg = self.config
        lows, highs = self._pairs(images, targets, "")
        val = None
        if val_images is not None:
            val = self._pairs(val_images, val_targets, "val_")
        elif cfg.val_fraction > 0 and len(lows) > 1:
            from biakit.workflows.semantic import _split

            lows, highs, val = _split(lows, highs, cfg)
        self._set_network_config(lows)

        def dataset(pairs: tuple[list, list], samples: int, train: bool) -> Any:
            aug = cfg.augment
            return ScaledPairDataset(
                *pairs, cfg.patch_shape, self.factors, samples_per_epoch=samples,
                flip=train and aug.flip, rotate90=train and aug.rotate90, seed=cfg.seed,
            )  # fmt: skip

        train_ds = dataset((lows, highs), cfg.samples_per_epoch, True)
        val_ds = dataset(val, max(cfg.samples_per_epoch // 4, 4), False) if val else None
        self.training = {"from_degradation": targets is None}
        work = self._train_network(
            train_ds, val_ds, n_images=len(lows), output_dir=output_dir, loss_fn=None,
            metrics=None, resume=resume, overwrite=overwrite, progress=progress,
        )  # fmt: skip
        self._finish(work, output_dir, overwrite=overwrite)
        return self.history

    def _pairs(self, images: Sequence[Any], targets: Sequence[Any] | None, prefix: str) -> tuple:
        """Normalised ``(lows, highs)``: each pair with its low image's statistics."""
        from biakit.nn.datasets import degrade, normalize_with_stats

        cfg = self.config
        ims = [channels_first(im, cfg.ndim, name=f"{prefix}images[{i}]").astype(np.float32)
               for i, im in enumerate(images)]  # fmt: skip
        if not ims:
            raise DataError(f"{prefix}images: need at least one image")
        for i, im in enumerate(ims):
            _check_finite(im, f"{prefix}images[{i}]")
        if targets is None:
            deg = cfg.degradation
            highs = [_crop(im, self.factors) for im in ims]
            lows = [degrade(h, self.factors, sigma=deg.sigma, gaussian_noise=deg.gaussian_noise,
                            seed=cfg.seed + i) for i, h in enumerate(highs)]  # fmt: skip
        else:
            if len(targets) != len(ims):
                raise DataError(f"got {len(ims)} {prefix}image(s) and {len(targets)} target(s)")
            lows = ims
            highs = [match_high(low, channels_first(t, cfg.ndim, name=f"{prefix}targets[{i}]"),
                                self.factors, f"{prefix}targets[{i}]").astype(np.float32)
                     for i, (low, t) in enumerate(zip(lows, targets))]  # fmt: skip
        out_lows, out_highs = [], []
        for low, high in zip(lows, highs):
            stats = cfg.normalizer.stats(low)
            out_lows.append(normalize_with_stats(low, stats))
            out_highs.append(normalize_with_stats(high, stats))
        return out_lows, out_highs

    def predict_maps(self, image: Any, **kwargs: Any) -> np.ndarray:
        """Super-resolved image ``(C, *(spatial * scale))``, in the input's intensity scale.

        ``tta`` is accepted for the common interface and ignored; other keywords
        go to :func:`biakit.nn.infer.predict_tiled_scaled` (``tile_shape``, ``device``).
        """
        from biakit.nn.datasets import denormalize_with_stats, normalize_with_stats
        from biakit.nn.infer import predict_tiled_scaled

        kwargs.pop("tta", None)
        array = self._checked_input(image).astype(np.float32)
        stats = self.config.normalizer.stats(array)
        kwargs.setdefault("amp", self.config.train.amp)
        out = predict_tiled_scaled(self.model, normalize_with_stats(array, stats), **kwargs)
        return denormalize_with_stats(out, stats)

    def postprocess(self, maps: np.ndarray) -> np.ndarray:
        """Return the super-resolved image (a single channel without its axis)."""
        return maps[0] if maps.shape[0] == 1 else maps

    def evaluate(self, images: Sequence[Any], highs: Sequence[Any]) -> Evaluation:
        """PSNR, SSIM, NRMSE of the network and of cubic interpolation, per image and mean.

        The prediction is matched to the ground truth by an affine rescaling
        (:func:`biakit.metrics.normalize_minmse`, as CARE), so intensity offsets
        do not count; PSNR and SSIM use the ground truth's range.
        """
        import pandas as pd

        from biakit.metrics import normalize_minmse, restoration_metrics

        rows = []
        for i, (low, high) in enumerate(zip(images, highs)):
            gt = self._ground_truth(low, high, f"highs[{i}]").astype(np.float64)
            row: dict[str, Any] = {"image": i}
            for name, pred in (("", self.predict_maps(low)), ("cubic_", self._cubic(low))):
                if pred.shape != gt.shape:
                    raise DataError(
                        f"highs[{i}] has shape {gt.shape}; the prediction has {pred.shape}"
                    )
                per_channel = [
                    restoration_metrics(
                        g, normalize_minmse(p, g), data_range=float(np.ptp(g)) or 1.0
                    )
                    for g, p in zip(gt, pred)
                ]  # channels are scored apart, then averaged
                for k in ("psnr", "ssim", "nrmse"):
                    row[f"{name}{k}"] = float(np.mean([getattr(m, k) for m in per_channel]))
            rows.append(row)
        table = pd.DataFrame(rows)
        summary = table.drop(columns="image").mean().to_frame().T
        return Evaluation(self.task, summary.iloc[0].to_dict(), table, summary)

    def _ground_truth(self, low: Any, high: Any, name: str) -> np.ndarray:
        """``high`` channel first, cropped to the scale times ``low`` (see :func:`match_high`)."""
        ndim = self.config.ndim
        return match_high(channels_first(low, ndim), channels_first(high, ndim), self.factors, name)

    def _cubic(self, image: Any) -> np.ndarray:
        from scipy import ndimage as ndi

        array = channels_first(image, self.config.ndim).astype(np.float64)
        return np.stack([ndi.zoom(c, self.factors, order=3, mode="reflect", grid_mode=True)
                         for c in array])  # fmt: skip

    # hooks of predict_to_disk
    def _output_names(self, stem: str, out: Path, *, maps: bool, overlay: bool) -> dict:
        names = {"sr": out / f"{stem}_sr.tif"}
        if overlay:
            names["overlay"] = out / f"{stem}_overlay.png"
        return names

    def _write_outputs(self, names: dict, *, image: np.ndarray, meta: Any, raw: Any, result: Any,
                       overwrite: bool) -> list[Path]:  # fmt: skip
        from biakit.io import ImageMeta, write_image
        from biakit.workflows._disk import middle_frame, output_meta

        result = np.asarray(result, dtype=np.float32)
        spacing = tuple(s / f for s, f in zip(meta.spatial_spacing, self.factors))
        write_image(names["sr"], result, output_meta(meta, result, spacing), overwrite=overwrite)
        if "overlay" in names:
            image, raw = middle_frame(meta, image, raw)
            rgb = side_by_side(self._cubic(image)[0], raw[0])
            write_image(names["overlay"], rgb, ImageMeta("YXC", unit="pixel"), overwrite=overwrite)
        return list(names.values())


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """RGB uint8 of two same-shape images (middle slice in 3D), each stretched 1-99.8%."""
    panels = []
    for image in (left, right):
        plane = image[image.shape[0] // 2] if image.ndim == 3 else image
        lo, hi = np.percentile(plane, (1.0, 99.8))
        grey = np.clip((plane - lo) / ((hi - lo) or 1.0), 0, 1)
        panels.append((255 * grey).astype(np.uint8))
    gap = np.full((panels[0].shape[0], 4), 255, np.uint8)
    row = np.concatenate([panels[0], gap, panels[1]], axis=1)
    return np.repeat(row[..., None], 3, axis=-1)


def match_high(
    low: np.ndarray, high: np.ndarray, factors: tuple[int, ...], name: str
) -> np.ndarray:
    """``high`` (``(C, *spatial)``) cropped to ``factors`` times ``low``'s spatial shape.

    A high-resolution image may be larger by less than one low-resolution pixel per
    axis (a low image made by floor division of an odd size): that remainder is cut
    from the end, where block-mean down-sampling drops it. Anything else is an error
    naming ``name``.

    Examples
    --------
    >>> low, high = np.zeros((1, 12, 10)), np.zeros((1, 25, 21))
    >>> match_high(low, high, (2, 2), "high.tif").shape
    (1, 24, 20)
    >>> match_high(low, np.zeros((1, 26, 20)), (2, 2), "high.tif")
    Traceback (most recent call last):
    ...
    biakit.errors.DataError: high.tif: spatial shape (26, 20); expected (24, 20) (...) ...
    """
    want = tuple(n * f for n, f in zip(low.shape[1:], factors))
    got = tuple(high.shape[1:])
    if len(got) == len(want) and all(w <= g < w + f for w, g, f in zip(want, got, factors)):
        return high[(slice(None), *(slice(0, w) for w in want))]
    raise DataError(
        f"{name}: spatial shape {got}; expected {want} (the low-resolution image's "
        f"{tuple(low.shape[1:])} x scale {tuple(factors)}), or at most "
        f"{tuple(f - 1 for f in factors)} more"
    )


def _crop(image: np.ndarray, factors: tuple[int, ...]) -> np.ndarray:
    """Crop the spatial axes to multiples of ``factors``."""
    spatial = image.shape[1:]
    if any(n < f for n, f in zip(spatial, factors)):
        raise DataError(f"image of spatial shape {spatial} is smaller than the scale {factors}")
    return image[(slice(None), *(slice(0, n - n % f) for n, f in zip(spatial, factors)))]
