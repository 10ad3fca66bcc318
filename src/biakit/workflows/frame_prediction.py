"""Next-frame (video) prediction: given the first frames of a time-lapse, predict the next ones.

A network (SimVP by default, or a ConvLSTM; :mod:`biakit.nn.models`) maps
``n_input`` frames to the next ``n_output``; longer horizons are rolled out
autoregressively (predicted frames become inputs). Training samples are
windows of ``n_input + n_output`` consecutive frames of one or many movies,
cropped at random places (large frames fit a CPU); intensities are normalised
with statistics of all training movies, stored with the model. Prediction
takes whole frames (padded to the network's multiple, cropped back).

With ``config.rollout`` the network is trained on multi-step roll-outs of
itself (its own predictions fed back; ``_frame_rollout``), so long horizons
do not drift; a per-horizon blend toward persistence, fitted on frames that
training never saw (``_frame_blend``), keeps every horizon at least as good as
persistence there.

Every evaluation scores the network beside two baselines: persistence
(copy-last-frame) and linear extrapolation of the last two frames, with pixel
scores and object-level scores (``_frame_objects``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import DataError
from biakit.workflows._disk import FileOutcome, PredictionReport
from biakit.workflows._frame_blend import (
    ANCHOR_SIGMAS,
    blend_forecast,
    choose_hold,
    forecast_sums,
    held_forecast,
    holdout_band,
    horizon_sources,
    persistence_gains,
    smooth_anchor,
)
from biakit.workflows._frame_config import FramePredictionConfig
from biakit.workflows._frame_eval import BASELINES, evaluate_movies, write_evaluation
from biakit.workflows._frame_report import check_test_movies, score_test_movies
from biakit.workflows._frame_tools import (
    FrameWindows,
    as_movie,
    linear_forecast,
    movie_list,
    pad_to_multiple,
    persistence_forecast,
)
from biakit.workflows._network import NetworkWorkflow
from biakit.workflows._results import Evaluation

__all__ = ["BASELINES", "FramePredictor", "linear_forecast", "persistence_forecast"]


class FramePredictor(NetworkWorkflow):
    """Predict the next frames of 2D or 3D time-lapses (SimVP or ConvLSTM).

    Parameters
    ----------
    config : FramePredictionConfig, optional
        Training options; defaults to a 2D SimVP, 4 frames in, 4 out.

    Examples
    --------
    >>> from biakit.data._moving_digits import moving_digits
    >>> movies = list(moving_digits(2, 8, canvas=16, digit_scale=1, seed=0))
    >>> cfg = FramePredictionConfig(n_input=3, n_output=2, patch_shape=(16, 16),
    ...     samples_per_epoch=4, model={"hid_s": 4, "hid_t": 8, "n_t": 1, "groups": 2},
    ...     train={"epochs": 1, "batch_size": 2})
    >>> fp = FramePredictor(cfg)
    >>> _ = fp.train(movies)
    >>> fp.predict(movies[0][:5], horizon=3).shape      # autoregressive beyond 2 frames
    (3, 16, 16)
    """

    task = "frame_prediction"
    config_class = FramePredictionConfig
    #: scores of the test movies after :meth:`train` (None without test movies)
    test_evaluation: Evaluation | None = None

    # ------------------------------------------------------------------ training
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
        test_movies: Sequence[Any] | None = None,
    ) -> Any:
        """Train on windows of one or many movies ``(T, *spatial)`` or ``(T, C, *spatial)``.

        ``targets`` must be None: a movie is its own target (its later frames).
        Without ``val_images`` (validation movies), ``config.val_fraction`` of
        the movies are held out (whole movies, seeded); with one movie there is
        no validation. ``output_dir``, ``resume`` and ``overwrite`` work as in
        :meth:`SemanticSegmenter.train`. Returns the per-epoch history.

        ``test_movies`` (default: the files of ``config.data.test_movies``, if
        set; ``()``: none) are scored after training by :meth:`evaluate` with
        its defaults (forecasts from every frame after the first
        ``max(n_input, 2)``, up to ``config.forecast_horizon`` frames ahead):
        the result is ``self.test_evaluation``, its headline is recorded in
        ``training["test"]``, and with ``output_dir`` the model folder gets
        ``test_metrics.csv`` (per-horizon means), ``test_per_image.csv`` (one
        row per forecast) and ``test_horizon.png``. They are checked before
        training starts.
        """
        from biakit.workflows.denoise import dataset_stats

        cfg = self.config
        if targets is not None or val_targets is not None:
            raise DataError(
                "targets must be None for frame prediction: each movie's later frames are its "
                "targets; pass the movies only"
            )
        movies = movie_list(images, cfg.ndim, "images")
        test = check_test_movies(self, test_movies)
        if val_images is not None:
            val = movie_list(val_images, cfg.ndim, "val_images")
        else:
            movies, val = _split_movies(movies, cfg.val_fraction, cfg.seed)
        blend_source = "validation movies" if val else "training movies"
        if not val and cfg.blend_horizon > 0 and cfg.blend_holdout > 0:
            movies, val = holdout_band(movies, cfg.blend_holdout)
            blend_source = f"held-out band ({cfg.blend_holdout:g} of the width)"
        # (T, C, *spatial) -> (C, T * first spatial axis, *rest): per-channel statistics, 2D or 3D
        per_channel = [np.moveaxis(m, 1, 0).reshape(m.shape[1], -1, *m.shape[3:]) for m in movies]
        stats = dataset_stats(cfg.normalizer, per_channel)
        self.training = {
            "normalization": stats.to_dict(),
            "frames": [len(m) for m in movies],
            "frame_shape": [list(m.shape[2:]) for m in movies][:8],
        }
        self._set_network_config([m[0] for m in movies])

        def windows(ms: list, samples: int, train: bool) -> FrameWindows:
            return FrameWindows(
                [self._normalize(m) for m in ms], cfg.n_input, cfg.target_frames,
                cfg.patch_shape, samples_per_epoch=samples,
                foreground_fraction=cfg.foreground_fraction, flip=train and cfg.augment.flip,
                rotate90=train and cfg.augment.rotate90, seed=cfg.seed,
            )  # fmt: skip

        train_ds = windows(movies, cfg.samples_per_epoch, True)
        val_ds = windows(val, max(cfg.samples_per_epoch // 4, 4), False) if val else None
        loss_fn = None
        if cfg.target_frames > cfg.n_output:  # trained rolled out: see _training_model
            from biakit.workflows._frame_rollout import RolloutLoss

            loss_fn = RolloutLoss(cfg.train.loss)
        work = self._train_network(
            train_ds, val_ds, n_images=len(movies), output_dir=output_dir, loss_fn=loss_fn,
            metrics=None, resume=resume, overwrite=overwrite, progress=progress,
        )  # fmt: skip
        self.training["rollout_frames"] = cfg.target_frames
        weights, fit = self._fit_blend([self._normalize(m) for m in (val or movies)])
        self.training["horizon_blend"] = weights
        self.training["horizon_hold"] = fit.pop("hold", None)
        self.training["blend_anchor_sigma"] = fit.pop("anchor_sigma", 0.0)
        self.training["blend_fit"] = {"source": blend_source, **fit} if fit else None
        self.test_evaluation = score_test_movies(self, test, work) if test else None
        self._finish(work, output_dir, overwrite=overwrite)
        return self.history

    def _training_model(self, network: Any) -> Any:
        """``network`` wrapped for multi-step training (``config.rollout``), else itself."""
        from biakit.workflows._frame_rollout import RolloutNet

        cfg = self.config
        if cfg.target_frames <= cfg.n_output:
            return network
        return RolloutNet(
            network, n_input=cfg.n_input, n_output=cfg.n_output, channels=self.in_channels,
            frames=cfg.target_frames, start=cfg.rollout.start or cfg.n_output,
            ramp_steps=cfg.rollout.ramp_steps,
        )  # fmt: skip

    def _fit_blend(self, movies: list[np.ndarray]) -> tuple[list[float] | None, dict[str, Any]]:
        """Per-horizon weights toward persistence, fitted on roll-outs of normalised ``movies``.

        Forecasts start at up to ``blend_forecasts`` origins spread evenly over
        all movies (see :func:`~biakit.workflows._frame_blend.fit_blend`); past
        ``n_output`` each horizon rolls out or holds the network's last direct
        frame, whichever the blend scores higher there (``choose_hold``).
        Returns the weights and a record of the fit: ``forecasts``, ``hold``
        (per horizon) and, per horizon, the mean PSNR gain over persistence on
        those frames of the raw roll-out (``raw_gain_db``) and of the blended
        forecast (``gain_db``, >= 0).
        """
        from biakit.cancel import check_cancelled

        cfg = self.config
        h_max = cfg.blend_horizon
        origins = [(i, o) for i, m in enumerate(movies) for o in range(cfg.n_input, len(m))]
        if h_max == 0 or not origins:
            return None, {}
        pick = np.linspace(0, len(origins) - 1, min(cfg.blend_forecasts, len(origins)))
        forecasts = []
        for k in np.unique(np.round(pick).astype(int)):
            check_cancelled()
            i, o = origins[k]
            h = min(h_max, len(movies[i]) - o)
            pred = self._rollout(movies[i][o - cfg.n_input : o], h)
            forecasts.append((pred, movies[i][o - 1 : o], movies[i][o : o + h]))
        best: dict[str, Any] = {}
        holds = [held_forecast(pred, cfg.n_output) for pred, _, _ in forecasts]
        for sigma in ANCHOR_SIGMAS:  # the blend's anchor: the last frame, or it denoised
            check_cancelled()
            runs, held = [], []
            for (pred, last, truth), kept in zip(forecasts, holds):
                anchor = smooth_anchor(last, sigma)
                runs.append(forecast_sums(pred, anchor, truth))
                held.append(forecast_sums(kept, anchor, truth))
            hold, weights, _ = choose_hold(runs, held, cfg.n_output)
            chosen = [(p[horizon_sources(hold, len(p), cfg.n_output)], last, truth)
                      for p, last, truth in forecasts]  # fmt: skip
            gains = persistence_gains(chosen, sigma, weights)
            ok = sigma == 0 or min(gains) >= 0  # 0: the last frame itself, never below it
            if ok and np.mean(gains) > best.get("score", -np.inf):
                best = {"score": float(np.mean(gains)), "sigma": sigma, "hold": hold,
                        "weights": weights, "gains": gains}  # fmt: skip
        raw = persistence_gains(forecasts, 0.0, [1.0] * len(best["weights"]))
        return best["weights"], {"forecasts": len(forecasts), "hold": best["hold"],
                                 "anchor_sigma": best["sigma"], "raw_gain_db": raw,
                                 "gain_db": best["gains"]}  # fmt: skip

    def _stats(self) -> Any:
        from biakit.nn.datasets import NormStats

        return NormStats.from_dict(self.training["normalization"])

    def _normalize(self, movie: np.ndarray) -> np.ndarray:
        from biakit.nn.datasets import normalize_with_stats

        return np.moveaxis(normalize_with_stats(np.moveaxis(movie, 1, 0), self._stats()), 0, 1)

    # ---------------------------------------------------------------- prediction
    def forecast(self, movie: Any, horizon: int | None = None, *, blend: bool = True) -> np.ndarray:
        """Frames after ``movie`` ``(T, C, *spatial)`` as ``(horizon, C, *spatial)`` float32.

        The network sees the last ``n_input`` frames and predicts ``n_output``;
        beyond that its predictions are fed back (autoregressive roll-out).
        With ``blend`` (and weights fitted after training, ``training
        ["horizon_blend"]``), horizon ``h`` is ``last + a_h * (pred_h - last)``:
        shrunk toward persistence as much as the held-out roll-outs asked; past
        ``n_output``, ``pred_h`` is the roll-out's frame ``h`` or, where
        ``training["horizon_hold"]`` says so, the network's last direct frame;
        ``last`` is the last frame smoothed by ``training["blend_anchor_sigma"]``
        pixels (0: as it is), chosen with the weights on the held-out frames.
        """
        from biakit.nn.datasets import denormalize_with_stats

        self._require_trained()
        cfg = self.config
        frames, _ = as_movie(movie, cfg.ndim)
        horizon = cfg.n_output if horizon is None else int(horizon)
        if horizon < 1:
            raise DataError(f"horizon must be >= 1, got {horizon}")
        if len(frames) < cfg.n_input:
            raise DataError(
                f"movie has {len(frames)} frame(s); the model needs the last n_input="
                f"{cfg.n_input} frames to predict"
            )
        if frames.shape[1] != self.in_channels:
            raise DataError(
                f"movie has {frames.shape[1]} channel(s) per frame; the model was trained on "
                f"{self.in_channels}"
            )
        hold = self.training.get("horizon_hold") if blend else None
        sources = horizon_sources(hold, horizon, cfg.n_output)
        pred = self._rollout(self._normalize(frames[-cfg.n_input :]), max(sources) + 1)[sources]
        if blend and self.training.get("horizon_blend"):
            anchor = smooth_anchor(
                self._normalize(frames[-1:]), float(self.training.get("blend_anchor_sigma") or 0.0)
            )
            pred = blend_forecast(pred, anchor, self.training["horizon_blend"])  # fmt: skip
        return np.moveaxis(denormalize_with_stats(np.moveaxis(pred, 1, 0), self._stats()), 0, 1)

    def _rollout(self, x: np.ndarray, horizon: int) -> np.ndarray:
        """``horizon`` normalised frames after the normalised ``(n_input, C, *spatial)`` ``x``."""
        import torch

        from biakit.workflows._frame_rollout import DihedralTTA, rollout

        cfg = self.config
        net = DihedralTTA(self.model, cfg.ndim) if cfg.tta else self.model
        x, crop = pad_to_multiple(x, self.network_config.divisor)
        device = next(self.model.parameters()).device
        self.model.eval()
        inp = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
        inp = inp.reshape(1, -1, *x.shape[2:])
        with torch.inference_mode():
            out = rollout(net, inp, n_input=cfg.n_input, n_output=cfg.n_output,
                          channels=x.shape[1], frames=horizon)  # fmt: skip
        return out.reshape(horizon, *x.shape[1:]).float().cpu().numpy()[crop]

    def predict_maps(self, image: Any, *, horizon: int | None = None, **_: Any) -> np.ndarray:
        """Predicted frames ``(horizon, C, *spatial)`` after the movie ``image``."""
        return self.forecast(image, horizon)

    def postprocess(self, maps: np.ndarray) -> np.ndarray:
        """Drop a channel axis of length 1: ``(horizon, *spatial)``, else unchanged."""
        out = np.asarray(maps, dtype=np.float32)
        return out[:, 0] if out.ndim >= 3 and out.shape[1] == 1 else out

    def predict(self, movie_prefix: Any, horizon: int | None = None, *, blend: bool = True,
                **_: Any) -> np.ndarray:  # fmt: skip
        """Return the ``horizon`` frames after ``movie_prefix`` (default ``n_output``), float32.

        ``movie_prefix`` is ``(T, *spatial)`` or ``(T, C, *spatial)``; the result
        has the same layout with ``horizon`` frames. ``blend``: see :meth:`forecast`.
        """
        _, had_c = as_movie(movie_prefix, self.config.ndim, "movie_prefix")
        pred = self.forecast(movie_prefix, horizon, blend=blend)
        return pred if had_c else pred[:, 0]

    # ---------------------------------------------------------------- evaluation
    def evaluate(self, movies: Sequence[Any], n_context: int | None = None,
                 horizon: int | None = None, *,
                 data_range: float | None = None, rolling: bool = True, blend: bool = True,
                 objects: Any = None, output_dir: str | Path | None = None,
                 overwrite: bool = False) -> Evaluation:  # fmt: skip
        """Per-horizon pixel and object scores of the model and of the two baselines.

        Forecasts start at every frame ``o`` from ``n_context`` to the end
        (``rolling``; else only at ``n_context``), from the frames before ``o``;
        horizon ``h`` scores frame ``o + h - 1`` (where it exists). So horizon 1
        averages all one-step predictions of the frames after the context.

        Parameters
        ----------
        movies : list of array_like
            Whole movies ``(T, *spatial)`` or ``(T, C, *spatial)``.
        n_context : int, optional
            Frames before the first forecast (>= ``n_input`` and >= 2); default
            ``max(n_input, 2)``.
        horizon : int, optional
            Longest forecast, in frames; default ``config.forecast_horizon``
            (``horizon``, else ``n_output``).
        data_range : float, optional
            Intensity range of PSNR / SSIM; default per movie: the dtype's
            maximum for unsigned integers (255 for uint8), else max - min.
        rolling : bool
            Forecast from every frame after the context, not only the first.
        blend : bool
            Shrink toward persistence with the fitted weights (see :meth:`forecast`).
        objects : ObjectScoreOptions, mapping or str, optional
            Segmentation of the object-level scores (``"objects"``,
            ``"monolayer"``, ``"none"`` or options); default ``config.objects``.
        output_dir : str or Path, optional
            Also write ``horizon_summary.csv`` (the summary), ``horizon_scores.csv``
            (the per-forecast table) and ``horizon.png`` (scores against the
            horizon, model / persistence / linear) there.
        overwrite : bool
            Replace those files.

        Returns
        -------
        Evaluation
            ``per_image``: one row per movie (``image``), ``origin``, ``horizon``
            with ``psnr``, ``ssim``, ``mse``, ``mae``, ``nrmse``, the object
            scores (``count_error``, ``mean_iou``, ``object_f1`` beside the true
            ``n_objects``; or ``gap_area_error`` beside ``gap_area`` for
            monolayers; see :mod:`biakit.workflows._frame_objects`) and the same
            with ``persistence_`` and ``linear_`` prefixes; ``summary``: their
            means per horizon (``n``: forecasts averaged); ``metrics``: the
            model's :class:`~biakit.metrics.RestorationMetrics` per horizon.
        """
        cfg = self.config
        n_context = max(cfg.n_input, 2) if n_context is None else n_context
        horizon = cfg.forecast_horizon if horizon is None else horizon
        ev = evaluate_movies(self, movies, n_context, horizon, data_range=data_range,
                             rolling=rolling, blend=blend, objects=objects)  # fmt: skip
        if output_dir is not None:
            write_evaluation(ev, output_dir, overwrite=overwrite)
        return ev

    # ---------------------------------------------------------------- persistence
    def _read_state(self, path: Path, manifest: dict[str, Any]) -> None:
        from biakit.errors import ModelFileError
        from biakit.workflows import _folder

        super()._read_state(path, manifest)
        try:
            self._stats()
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFileError(
                f"{path / _folder.MANIFEST}: training.normalization is missing or invalid "
                f"({type(err).__name__}: {err}); the model cannot restore intensities"
            ) from None

    # ---------------------------------------------------------- predict_to_disk
    def iter_predict_to_disk(  # type: ignore[override]
        self, inputs: Any, output_dir: str | Path, *, overwrite: bool = False,
        axes: str | None = None, **_: Any,
    ) -> Iterator[FileOutcome]:  # fmt: skip
        """Yield one outcome per movie; see :meth:`predict_to_disk`."""
        from biakit.workflows._frame_disk import iter_forecast_to_disk

        self._require_trained()
        return iter_forecast_to_disk(self, inputs, output_dir, overwrite=overwrite, axes=axes)

    def predict_to_disk(  # type: ignore[override]
        self, inputs: Any, output_dir: str | Path, *, overwrite: bool = False,
        axes: str | None = None, **_: Any,
    ) -> PredictionReport:  # fmt: skip
        """Forecast every movie and write, per movie ``NAME``, into ``output_dir``.

        * ``NAME_predicted.tif``: the ``config.forecast_horizon`` frames after
          the movie's last frame (``TYX`` / ``TCYX`` / ``TZYX`` ...);
        * ``NAME_horizon.csv``: a back-test, the movie's last frames predicted
          from the frames before them, scored per horizon (pixel and object
          scores, see :meth:`evaluate`) for the model and the persistence /
          linear baselines;
        * ``NAME_montage.png``: that back-test's truth | prediction | error, one
          row per frame;
        * ``NAME_horizon.png``: the back-test's scores (PSNR, SSIM and the
          object scores of ``config.objects``) against the horizon, model
          beside persistence and linear extrapolation.

        Inputs are time-lapse files or folders of frames (``axes`` for files
        without metadata, e.g. ``"TYX"``); a movie too short for a back-test
        gets only its forecast.
        """
        outcomes = tuple(self.iter_predict_to_disk(inputs, output_dir, overwrite=overwrite,
                                                   axes=axes))  # fmt: skip
        return PredictionReport(outcomes)


def _split_movies(movies: list, fraction: float, seed: int) -> tuple[list, list | None]:
    """Hold out ``fraction`` of the movies (at least one, seeded); none with a single movie."""
    if fraction <= 0 or len(movies) < 2:
        return movies, None
    n_val = min(max(1, round(fraction * len(movies))), len(movies) - 1)
    order = np.random.default_rng(seed).permutation(len(movies))
    val = set(order[:n_val].tolist())
    return [m for i, m in enumerate(movies) if i not in val], [movies[i] for i in sorted(val)]
