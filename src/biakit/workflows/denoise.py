"""Denoising with a U-Net: Noise2Void (N2V, N2V2, structN2V), CARE and Noise2Noise.

The network maps the image's channels to restored channels. Intensities are
normalised per image by default (``config.norm_scope="image"``): each image with
its own statistics, its target (CARE, N2N) with the *image's* statistics, and the
output is mapped back with them, so ``predict(a * x + b) == a * predict(x) + b``:
a model trained on 16-bit images restores the same scene saved as 8-bit, at
another gain or contrast stretch. With ``norm_scope="dataset"`` the statistics of
the whole training set, computed separately for the inputs and the targets (for
N2V the targets are the inputs), are used and stored with the model
(``model.json``, ``training.normalization``): prediction normalises with the
input statistics and maps the output back with the *target* statistics, so a
CARE model restores clean images on the clean images' intensity scale. Both
scopes store the training set's statistics; models saved before the scope
existed load as ``"dataset"``.

A trained model is a folder (see :mod:`biakit.workflows._folder`); prediction
is tiled with an overlap covering the U-Net's receptive field.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biakit.errors import DataError
from biakit.workflows._base import channels_first
from biakit.workflows._denoise_checks import check_noise_structure
from biakit.workflows._denoise_config import DenoiseConfig
from biakit.workflows._network import NetworkWorkflow, _check_finite
from biakit.workflows._results import Evaluation

#: percentiles of CARE's ground-truth normalisation before PSNR / SSIM / NRMSE
EVAL_PERCENTILES = (0.1, 99.9)
#: options added after models were first saved, and the behaviour of models saved without
#: them: no TTA, dataset statistics, no blind-spot blend, plain squared-error N2V loss
BEHAVIOUR_BEFORE = {"tta": False, "norm_scope": "dataset", "blend_input": False,
                    "huber_delta": None}  # fmt: skip


class Denoiser(NetworkWorkflow):
    """Image denoising, self-supervised (N2V family) or from pairs (CARE, N2N), 2D or 3D.

    Parameters
    ----------
    config : DenoiseConfig, optional
        Training options; defaults to N2V with a depth-2 U-Net.

    Examples
    --------
    >>> from biakit.data import noisy_clean_pair
    >>> from biakit.workflows import DenoiseConfig, Denoiser
    >>> noisy, clean = noisy_clean_pair((48, 48), noise="gaussian", level=0.2, seed=0)
    >>> config = DenoiseConfig(patch_shape=(32, 32), samples_per_epoch=4, mask_fraction=0.02,
    ...                        model={"depth": 1, "base_filters": 4},
    ...                        train={"epochs": 1, "batch_size": 2})
    >>> den = Denoiser(config)
    >>> _ = den.train([noisy])
    >>> den.predict_maps(noisy).shape, den.predict(noisy).shape, den.predict(noisy).dtype
    ((1, 48, 48), (48, 48), dtype('float32'))
    """

    task = "denoise"
    config_class = DenoiseConfig
    timelapse_frames = True

    @property
    def stack_planes(self) -> bool:
        """A 2-D model restores a Z-stack file plane by plane (keeping Z and its spacing)."""
        return self.config.ndim == 2

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
        """Train on noisy images (N2V family) or on image / target pairs (CARE, N2N).

        ``targets`` must be None for ``n2v``, ``n2v2`` and ``structn2v`` (they
        train on the images to denoise) and are the clean images (``care``) or
        second noisy images (``n2n``), each shaped like its image, otherwise.
        Without validation data ``config.val_fraction`` of the images are held
        out (by image, seeded; with one image there is no validation).
        ``output_dir``, ``resume`` and ``overwrite`` work as in
        :meth:`SemanticSegmenter.train`. Returns the history.
        """
        from biakit.workflows.semantic import _split

        cfg = self.config
        images = _channels(images, cfg.ndim, "images")
        targets = self._targets(images, targets, "targets")
        if val_images is not None:
            vx = _channels(val_images, cfg.ndim, "val_images")
            val = (vx, self._targets(vx, val_targets, "val_targets"))
        else:
            images, targets, val = _split(images, targets, cfg)
        norm_in = dataset_stats(cfg.normalizer, images)
        norm_out = norm_in if cfg.self_supervised else dataset_stats(cfg.normalizer, targets)
        self.training = {"normalization": {"input": norm_in.to_dict(),
                                           "target": norm_out.to_dict()}}  # fmt: skip
        structure = check_noise_structure(images, cfg)  # logs advice for correlated noise
        if structure is not None:
            self.training["noise_structure"] = structure
        xs, ys = self._normalized(images, targets)
        if val is not None:
            val = self._normalized(*val)
        work = self._fit_denoise(xs, ys, val, output_dir=output_dir, resume=resume,
                                 overwrite=overwrite, progress=progress)  # fmt: skip
        self._finish(work, output_dir, overwrite=overwrite)
        return self.history

    def norm_stats(self, image: Any) -> tuple[Any, Any]:
        """``(input, output)`` :class:`~biakit.nn.datasets.NormStats` for one channel-first image.

        ``norm_scope="image"``: the image's own statistics, twice; ``"dataset"``: the
        training set's input and target statistics stored with the model.

        Examples
        --------
        >>> den = Denoiser(DenoiseConfig(patch_shape=(8, 8)))
        >>> stats_in, stats_out = den.norm_stats(np.array([[[1.0, 3.0], [1.0, 3.0]]]))
        >>> stats_in.offset, stats_in.scale == stats_out.scale
        ((2.0,), True)
        """
        from biakit.nn.datasets import NormStats

        if self.config.norm_scope == "image":
            stats = self.config.normalizer.stats(image)
            return stats, stats
        norm = self.training["normalization"]
        return NormStats.from_dict(norm["input"]), NormStats.from_dict(norm["target"])

    def _normalized(self, images: list, targets: list) -> tuple[list, list]:
        """Normalise training images and targets (each target with its image's statistics)."""
        from biakit.nn.datasets import normalize_with_stats

        same = self.config.self_supervised  # N2V: the targets are the images
        xs, ys = [], []
        for im, t in zip(images, targets):
            stats_in, stats_out = self.norm_stats(im)
            xs.append(normalize_with_stats(im, stats_in))
            ys.append(xs[-1] if same else normalize_with_stats(t, stats_out))
        return xs, ys

    def _targets(self, images: list, targets: Sequence[Any] | None, name: str) -> list:
        """Check targets against the algorithm and the images; N2V: the images themselves."""
        algo = self.config.algorithm
        if self.config.self_supervised:
            if targets is not None:
                raise DataError(
                    f"{name} must be None for algorithm {algo!r}: it is self-supervised and "
                    "trains on the noisy images alone; use algorithm 'care' or 'n2n' for pairs"
                )
            return images
        if targets is None:
            what = "clean images" if algo == "care" else "second noisy images of the same scenes"
            raise DataError(f"{name} is missing: algorithm {algo!r} needs {what}")
        out = _channels(targets, self.config.ndim, name)
        if len(out) != len(images):
            raise DataError(f"got {len(images)} image(s) and {len(out)} {name}; need equal counts")
        for i, (im, t) in enumerate(zip(images, out)):
            if im.shape != t.shape:
                raise DataError(
                    f"{name}[{i}] has shape {t.shape} (channels first) but its image has "
                    f"{im.shape}; they must match"
                )
        return out

    def _fit_denoise(
        self, xs: list, ys: list, val: tuple | None, *, output_dir: Any, resume: bool,
        overwrite: bool, progress: bool,
    ) -> Path | None:  # fmt: skip
        """Train on normalised arrays; N2V algorithms wrap the patches in blind-spot masking."""
        from biakit.nn.augment import Augmenter
        from biakit.nn.datasets import Normalizer, PatchDataset
        from biakit.nn.targets import N2VDataset, n2v_loss

        cfg = self.config
        self._set_network_config(xs)
        masking = cfg.masking() if cfg.self_supervised else None
        if masking is not None:
            _check_patch_fits(xs, cfg.patch_shape)

        def dataset(ims: list, ts: list, samples: int, aug: Any, prefetch: bool) -> Any:
            ds = PatchDataset(
                ims, ts, cfg.patch_shape, samples_per_epoch=samples, foreground_fraction=0.0,
                augmenter=aug, normalizer=Normalizer(kind="none"), target_kind="continuous",
                seed=cfg.seed,
            )  # fmt: skip
            if masking is None:
                return ds
            return N2VDataset(ds, masking, seed=cfg.seed, prefetch=prefetch)

        aug = Augmenter(cfg.augment, ndim=cfg.ndim)
        train_ds = dataset(xs, ys, cfg.samples_per_epoch, aug, _can_prefetch(cfg))
        val_ds = dataset(*val, _val_samples(cfg), None, False) if val else None
        work = self._train_network(
            train_ds, val_ds, n_images=len(xs), output_dir=output_dir,
            loss_fn=partial(n2v_loss, huber=cfg.huber_delta) if masking is not None else None,
            metrics=None, resume=resume, overwrite=overwrite, progress=progress,
        )  # fmt: skip
        self.training["algorithm"] = cfg.algorithm
        return work

    # ---------------------------------------------------------------- prediction
    def predict_maps(
        self, image: Any, *, tta: bool | int | None = None, blend_input: bool | None = None,
        **kwargs: Any,
    ) -> np.ndarray:  # fmt: skip
        """Restored image ``(C, *spatial)`` float32 on the targets' intensity scale.

        Tiled with an overlap covering the receptive field (``tile_shape``,
        ``batch_size``, ``device`` ... are passed to
        :func:`biakit.nn.infer.predict_tiled`); ``tta`` averages over flips and
        90-degree rotations (True: all eight in 2D; an integer: that many of them; None:
        ``config.resolved_tta``, the four turns for 2D N2V / N2V2);
        ``blend_input`` gives the blind-spot prediction each pixel's own value back
        with the weights of :meth:`blend_weights` (None: ``config.resolved_blend_input``,
        on for N2V / N2V2).
        """
        array = self._checked_input(image)
        stats = self.norm_stats(array)
        tta = self.config.resolved_tta if tta is None else tta
        out = self._restore(array, stats, tta, **kwargs)
        blend = self.config.resolved_blend_input if blend_input is None else bool(blend_input)
        if not blend:
            return out
        from biakit.nn.infer import blend_blind_spot

        weights = self.blend_weights(array, stats, tta=tta, prediction=out, **kwargs)
        return blend_blind_spot(array, out, weights)

    def blend_weights(
        self, image: Any, stats: tuple[Any, Any], *, tta: bool | int, prediction: Any = None,
        **kwargs: Any,
    ) -> Any:  # fmt: skip
        """Per-channel :class:`~biakit.nn.infer.BlendWeights` for ``blend_input`` (N2V / N2V2).

        Measured by :func:`biakit.nn.infer.blind_spot_weights` on the central region
        of :func:`biakit.nn.infer.blend_weight_region` (the whole image up to
        2048 x 2048 pixels; 16 x 512 x 512 voxels in 3D), from the network's
        prediction there and its :func:`~biakit.nn.infer.centre_gain` (probed in
        float32 without TTA on a central crop of at most 128 x 128 pixels, 8 x 128 x
        128 in 3D: the flips and turns of TTA average the same network's gain on
        turned copies of the image): in memory and block by block alike. ``image``
        is ``(C, *spatial)`` (an array or any array-like that slices so), ``stats``
        its :meth:`norm_stats`; ``prediction``, the network's restoration of the whole
        image (array-like as ``image``), gives the region's prediction without a second
        pass; without it the region is predicted alone.
        """
        from biakit.nn.infer import blend_weight_region, blind_spot_weights, centre_gain

        region = (slice(None), *blend_weight_region(tuple(image.shape[1:])))
        sub = np.asarray(image[region], dtype=np.float32)
        opts = {k: v for k, v in kwargs.items() if k in ("device", "amp", "batch_size")}
        if prediction is not None:
            mu = np.asarray(prediction[region], dtype=np.float32)
        else:  # the region alone, with the whole image's statistics
            mu = self._restore(sub, stats, tta, **opts)
        probe = {**opts, "amp": "none"}  # a difference of two predictions: no bf16 rounding
        gains = centre_gain(lambda x: self._restore(x, stats, False, **probe), sub,
                            seed=self.config.seed)  # fmt: skip
        return blind_spot_weights(sub, mu, gains)

    def _restore(self, array: np.ndarray, stats: tuple[Any, Any], tta: bool | int,
                 **kwargs: Any) -> np.ndarray:  # fmt: skip
        """Return the network's restoration of a channel-first image, on the output scale."""
        from biakit.nn.datasets import denormalize_with_stats, normalize_with_stats
        from biakit.nn.infer import predict_tiled

        stats_in, stats_out = stats
        kwargs.setdefault("amp", self.config.train.amp)
        x = normalize_with_stats(array, stats_in)
        out = predict_tiled(self.model, x, activation=None, tta=tta, **kwargs)
        return denormalize_with_stats(out, stats_out)

    def predict_to_disk(self, inputs: Any, output_dir: str | Path, *,
                        tta: bool | int | None = None, **kwargs: Any) -> Any:  # fmt: skip
        """As :meth:`Workflow.predict_to_disk`; ``tta`` None follows ``config.resolved_tta``."""
        return super().predict_to_disk(inputs, output_dir, tta=tta, **kwargs)

    def iter_predict_to_disk(self, inputs: Any, output_dir: str | Path, **kwargs: Any) -> Any:
        """As :meth:`Workflow.iter_predict_to_disk`; ``tta`` None follows the config."""
        kwargs.setdefault("tta", None)
        return super().iter_predict_to_disk(inputs, output_dir, **kwargs)

    def postprocess(self, maps: np.ndarray) -> np.ndarray:
        """Return the restored image: one channel as ``(*spatial)``, else ``(C, *spatial)``."""
        out = np.asarray(maps, dtype=np.float32)
        return out[0] if out.shape[0] == 1 else out

    def evaluate(self, images: Sequence[Any], clean: Sequence[Any]) -> Evaluation:
        """PSNR, SSIM and NRMSE per image and their means, as CARE evaluates.

        Per channel, the clean image is normalised to its 0.1 / 99.9 percentiles
        and the prediction (and, for ``input_*`` columns, the noisy input) is
        rescaled by :func:`biakit.metrics.normalize_minmse` before
        :func:`biakit.metrics.restoration_metrics` with ``data_range=1``;
        channels are averaged.
        """
        from biakit.metrics import RestorationMetrics

        xs = _channels(images, self.config.ndim, "images")
        gts = _channels(clean, self.config.ndim, "clean")
        if len(xs) != len(gts) or not xs:
            raise DataError(f"got {len(xs)} image(s) and {len(gts)} clean image(s); need equal")
        rows = []
        for i, (x, gt) in enumerate(zip(xs, gts)):
            if x.shape != gt.shape:
                raise DataError(f"clean[{i}] has shape {gt.shape} but its image has {x.shape}")
            pred = self.predict_maps(x)
            rows.append({"image": i, **_scores(gt, pred), **_scores(gt, x, prefix="input_")})
        table = pd.DataFrame(rows)
        names = RestorationMetrics.__dataclass_fields__
        pooled = RestorationMetrics(**{k: float(table[k].mean()) for k in names})
        means = table.drop(columns="image").mean().to_frame().T
        return Evaluation(self.task, pooled, table, means)

    def _read_state(self, path: Path, manifest: dict[str, Any]) -> None:
        from biakit.errors import ModelFileError
        from biakit.nn.datasets import NormStats
        from biakit.workflows import _folder

        super()._read_state(path, manifest)
        saved = manifest.get("config") or {}
        before = {k: v for k, v in BEHAVIOUR_BEFORE.items() if k not in saved}
        self.config = self.config.model_copy(update=before)  # a model predicts / trains as then
        try:
            norm = self.training["normalization"]
            NormStats.from_dict(norm["input"]), NormStats.from_dict(norm["target"])
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFileError(
                f"{path / _folder.MANIFEST}: training.normalization is missing or invalid "
                f"({type(err).__name__}: {err}); the model cannot restore intensities"
            ) from None

    # hooks of predict_to_disk
    def _output_names(self, stem: str, out: Path, *, maps: bool, overlay: bool) -> dict:
        names = {"denoised": out / f"{stem}_denoised.tif"}
        if overlay:
            names["overlay"] = out / f"{stem}_overlay.png"
        return names

    def _write_outputs(self, names: dict, *, image: np.ndarray, meta: Any, raw: Any, result: Any,
                       overwrite: bool) -> list[Path]:  # fmt: skip
        from biakit.io import ImageMeta, write_image
        from biakit.workflows._disk import middle_frame, output_meta

        result = np.asarray(result, dtype=np.float32)
        write_image(names["denoised"], result, output_meta(meta, result), overwrite=overwrite)
        if "overlay" in names:
            rgb = side_by_side(*middle_frame(meta, image, raw))
            write_image(names["overlay"], rgb, ImageMeta("YX", unit="pixel"), overwrite=overwrite)
        return list(names.values())


def dataset_stats(normalizer: Any, images: Sequence[np.ndarray]) -> Any:
    """Per-channel statistics of a whole data set (all images' voxels pooled).

    ``percentile`` and ``zscore`` pool :func:`biakit.nn.datasets.sample_voxels`
    of every image (each within the normaliser's voxel budget); ``range`` and
    ``none`` do not depend on the data.

    Examples
    --------
    >>> from biakit.nn.datasets import Normalizer
    >>> ims = [np.zeros((1, 4, 4)), np.full((1, 4, 4), 2.0)]
    >>> s = dataset_stats(Normalizer(kind="zscore"), ims)
    >>> s.offset, round(s.scale[0], 4)
    ((1.0,), 1.0)
    """
    from biakit.nn.datasets import NormStats, sample_voxels

    if normalizer.kind in ("range", "none"):
        return normalizer.stats(images[0])
    values = np.concatenate([sample_voxels(im, normalizer.max_voxels) for im in images], axis=1)
    values = values.astype(np.float64)
    if normalizer.kind == "percentile":
        lo, hi = np.percentile(values, [normalizer.low, normalizer.high], axis=1)
        return NormStats(tuple(lo), tuple(hi - lo + normalizer.eps))
    return NormStats(tuple(values.mean(axis=1)), tuple(values.std(axis=1) + normalizer.eps))


def _channels(images: Sequence[Any], ndim: int, name: str) -> list[np.ndarray]:
    if images is None or hasattr(images, "shape") or isinstance(images, str | bytes):
        raise DataError(f"{name} must be a list of images (one array per image)")
    out = [channels_first(im, ndim, name=f"{name}[{i}]") for i, im in enumerate(images)]
    if not out:
        raise DataError(f"{name} is empty; give at least one image")
    for i, im in enumerate(out):
        _check_finite(im, f"{name}[{i}]")
        if im.shape[0] != out[0].shape[0]:
            raise DataError(
                f"{name}[{i}] has {im.shape[0]} channel(s), {name}[0] has {out[0].shape[0]}; "
                "all images need the same channels"
            )
    return out


def _val_samples(cfg: DenoiseConfig) -> int:
    """Return the validation patches per epoch: 1/4 of the training patches, 1/16 for N2V.

    The N2V validation loss is informative only (the last weights are kept; no early
    stopping unless asked), and a quarter of the epoch's patches cost about 7% of the
    training time of CAREamics' default configuration (issue 11).
    """
    share = 16 if cfg.self_supervised else 4
    return max(cfg.samples_per_epoch // share, min(cfg.train.batch_size, cfg.samples_per_epoch), 4)


def _can_prefetch(cfg: DenoiseConfig) -> bool:
    """Whether N2V patches can be made in a background thread (see :class:`N2VDataset`).

    The patches come from in-memory arrays; not with data-loader workers (they make their
    own) nor under torchrun (each rank uses only its share of an epoch's patches).
    """
    import os

    return cfg.train.num_workers == 0 and int(os.environ.get("WORLD_SIZE", "1")) == 1


def _check_patch_fits(images: list, patch_shape: tuple[int, ...]) -> None:
    """Blind-spot training needs patches inside the images (padding would mirror pixels)."""
    for i, im in enumerate(images):
        if any(n < p for n, p in zip(im.shape[1:], patch_shape)):
            raise DataError(
                f"image {i} has spatial shape {im.shape[1:]}, smaller than patch_shape "
                f"{tuple(patch_shape)}; N2V patches must lie inside the image (mirror padding "
                "would show a masked pixel its own value); use a smaller patch_shape"
            )


def _scores(gt: np.ndarray, pred: np.ndarray, prefix: str = "") -> dict[str, float]:
    """CARE-style metrics averaged over channels (see :meth:`Denoiser.evaluate`)."""
    from biakit.metrics import normalize_minmse, restoration_metrics

    per_channel = []
    for g, p in zip(gt, pred):
        g = g.astype(np.float64)
        lo, hi = np.percentile(g, EVAL_PERCENTILES)
        g = (g - lo) / (hi - lo + 1e-20)
        m = restoration_metrics(g, normalize_minmse(p, g), data_range=1.0)
        per_channel.append(m.as_dict())
    mean = pd.DataFrame(per_channel).mean()
    return {f"{prefix}{k}": float(v) for k, v in mean.items()}


def side_by_side(image: np.ndarray, restored: np.ndarray, gap: int = 4) -> np.ndarray:
    """Grey uint8 picture: first channel of the input (left) and its restoration (right).

    3D images show their middle Z slice; both halves share the input's 1-99.8
    percentile display range.

    Examples
    --------
    >>> side_by_side(np.zeros((1, 8, 8)), np.ones((1, 8, 8))).shape
    (8, 20)
    """
    a, b = np.asarray(image[0], dtype=np.float64), np.asarray(restored[0], dtype=np.float64)
    if a.ndim == 3:
        a, b = a[a.shape[0] // 2], b[b.shape[0] // 2]
    lo, hi = np.percentile(a, (1.0, 99.8))
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    to8 = lambda v: np.clip((v - lo) * scale, 0, 255).astype(np.uint8)  # noqa: E731
    sep = np.full((a.shape[0], gap), 255, dtype=np.uint8)
    return np.concatenate([to8(a), sep, to8(b)], axis=1)
