"""The workflow contract every task follows, with or without a neural network.

Verbs (the same on every task):

* ``train(images, targets, *, output_dir, resume, overwrite, progress)`` -> history
* ``predict_maps(image)`` -> raw output, channels first ``(C, *spatial)``
* ``postprocess(maps)`` -> final result (labels, points, ...)
* ``predict(image)`` = ``postprocess(predict_maps(image))``
* ``predict_to_disk(inputs, output_dir)`` -> read, predict once, write labels / maps /
  overlays / tables (what the command line and napari call)
* ``evaluate(images, targets)`` -> :class:`~biakit.workflows.Evaluation`
* ``save(path)`` / ``load(path)`` -> a model folder (see :mod:`biakit.workflows._folder`)

Tuned post-processing (thresholds, size filters) lives in one place,
``self.thresholds`` (a plain dict), saved as ``thresholds.json`` like StarDist's.
A task without a network (e.g. a tracker) subclasses :class:`Workflow` directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from biakit.errors import DataError, ModelFileError
from biakit.workflows import _folder
from biakit.workflows._disk import FileOutcome, PredictionReport, iter_predict_to_disk


def channels_first(image: Any, ndim: int, *, name: str = "image") -> np.ndarray:
    """Return ``image`` as ``(C, *spatial)``; a plain ``ndim``-D image gets ``C = 1``."""
    from biakit.validation import check_channel_layout

    return np.asarray(check_channel_layout(image, ndim, name=name))


def check_pairs(images: list[np.ndarray], targets: list[np.ndarray], what: str) -> None:
    """Equal counts, and each target's shape equal to its image's spatial shape."""
    if len(images) != len(targets) or not images:
        raise DataError(f"got {len(images)} image(s) and {len(targets)} {what}(s); need equal, > 0")
    for i, (im, t) in enumerate(zip(images, targets)):
        if im.shape[1:] != t.shape:
            raise DataError(f"image {i} has spatial shape {im.shape[1:]} but {what} {t.shape}")


class Workflow:
    """Base of every task facade: config, tuned post-processing, model folder, disk output.

    Subclasses set ``task`` and ``config_class`` and implement ``train``,
    ``predict_maps``, ``postprocess``, ``evaluate`` and the small output hooks
    (``_output_names``, ``_write_outputs``, ``_count``, ``_density``).
    """

    task: ClassVar[str] = ""
    config_class: ClassVar[type] = object

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.config_class()
        self.thresholds: dict[str, Any] | None = None
        self.training: dict[str, Any] = {}
        self.history: Any = None

    def __repr__(self) -> str:
        trained = "trained" if self.is_trained else "untrained"
        return f"{type(self).__name__}(task={self.task!r}, {trained})"

    @property
    def input_ndim(self) -> int:
        """Spatial dimensions of the images ``predict`` takes (the config's ``ndim``)."""
        return int(self.config.ndim)

    @property
    def is_trained(self) -> bool:
        """Whether the workflow can predict."""
        return self.thresholds is not None or bool(self.training)

    def _require_trained(self) -> None:
        if not self.is_trained:
            name = type(self).__name__
            raise RuntimeError(f"this {name} is not trained; call train() or load()")

    # ------------------------------------------------------------------ predict
    def predict_maps(self, image: Any, **kwargs: Any) -> np.ndarray:
        """Raw output ``(C, *spatial)`` (probabilities, heat maps, distances)."""
        raise NotImplementedError(f"{type(self).__name__} has no raw output maps")

    def postprocess(self, maps: np.ndarray) -> Any:
        """Turn raw maps into the final result with the tuned parameters."""
        raise NotImplementedError

    def predict(self, image: Any, **kwargs: Any) -> Any:
        """Return the final result for one image: ``postprocess(predict_maps(image))``."""
        return self.postprocess(self.predict_maps(image, **kwargs))

    def iter_predict_to_disk(
        self, inputs: Any, output_dir: str | Path, **kwargs: Any
    ) -> Iterator[FileOutcome]:
        """Yield one :class:`FileOutcome` per input as it finishes (see :meth:`predict_to_disk`)."""
        self._require_trained()
        return iter_predict_to_disk(self, inputs, output_dir, **kwargs)

    def predict_to_disk(
        self,
        inputs: str | Path | list[str | Path],
        output_dir: str | Path,
        *,
        overwrite: bool = False,
        maps: bool = False,
        overlay: bool = True,
        tta: bool | int | None = False,
        axes: str | None = None,
    ) -> PredictionReport:
        """Read each input, predict it once, write its outputs into ``output_dir``.

        Parameters
        ----------
        inputs : path, folder, glob or list of paths
            Images to predict.
        output_dir : path
            Receives ``NAME_labels.tif`` (or ``NAME_points.csv``), optional
            ``NAME_maps.tif`` and ``NAME_overlay.png``, and batch tables.
        overwrite : bool
            Replace outputs of an earlier run; inputs are never replaced.
        maps, overlay : bool
            Also write the raw maps (channels first) / an RGB overlay.
        tta : bool or int or None
            Average over flips (test-time augmentation; an integer: that many
            transforms, see :func:`biakit.nn.infer.tta_transforms`; None: the model's
            default where it has one).
        axes : str, optional
            Axes of the input files when their metadata lacks them (``"ZYX"``).

        Returns
        -------
        PredictionReport
            One :class:`FileOutcome` per input; failed inputs carry their error
            and the batch goes on.
        """
        from biakit.workflows._disk import predict_to_disk

        self._require_trained()
        return predict_to_disk(self, inputs, output_dir, overwrite=overwrite, maps=maps,
                               overlay=overlay, tta=tta, axes=axes)  # fmt: skip

    # hooks of predict_to_disk ---------------------------------------------------
    #: whether predict_to_disk restores a time-lapse file frame by frame in memory (its
    #: ``_write_outputs`` then gets ``(T, ...)`` arrays and a ``T``-first ``meta``)
    timelapse_frames: bool = False

    @property
    def stack_planes(self) -> bool:
        """Whether a 2-D model restores a Z-stack file plane by plane (restoration tasks)."""
        return False

    def _output_names(self, stem: str, out: Path, *, maps: bool, overlay: bool) -> dict:
        names = {"labels": out / f"{stem}_labels.tif"}
        if maps:
            names["maps"] = out / f"{stem}_maps.tif"
        if overlay:
            names["overlay"] = out / f"{stem}_overlay.png"
        return names

    def _batch_outputs(self, out: Path) -> list[Path]:
        return []

    def _write_outputs(self, names: dict, *, image: np.ndarray, meta: Any, raw: Any, result: Any,
                       overwrite: bool) -> list[Path]:  # fmt: skip
        raise NotImplementedError

    def _table(self, result: Any, image: np.ndarray, meta: Any, path: Path) -> Any:
        return None

    def _write_batch(self, tables: list, out: Path, *, overwrite: bool) -> None:
        """Write batch-wide tables after the last input (default: nothing)."""

    def _count(self, result: Any) -> int:
        return 0

    def _density(self, result: Any, shape: tuple[int, ...]) -> float:
        return float("nan")

    # ------------------------------------------------------------- persistence
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the model folder ``path`` as a whole (temporary sibling, then rename)."""
        self._require_trained()
        target = Path(path)
        if _folder.is_occupied(target) and not overwrite:
            raise FileExistsError(f"{target}: exists already; pass overwrite=True to replace it")
        tmp = _folder.new_temp_dir(target)
        try:
            self._write_folder(tmp)
            return _folder.commit_folder(tmp, target, overwrite=overwrite)
        except BaseException:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _write_folder(self, folder: Path) -> None:
        """Write every file of the model folder into ``folder`` (an empty temporary folder)."""
        from biakit.workflows._versions import versions

        manifest = {
            "format": _folder.MODEL_FORMAT,
            "format_version": _folder.FORMAT_VERSION,
            "task": self.task,
            "workflow": type(self).__name__,
            **self._manifest_extra(),
            "training": self.training,
            "versions": versions(),
        }
        self._write_state(folder)
        _folder.write_json(folder / _folder.CONFIG, self.config.model_dump(mode="json"))
        if self.thresholds is not None:
            _folder.write_json(folder / _folder.THRESHOLDS, self.thresholds)
        _folder.write_json(folder / _folder.MANIFEST, manifest)  # last: marks a complete folder

    def _manifest_extra(self) -> dict[str, Any]:
        return {}

    def _write_state(self, folder: Path) -> None:
        """Write learned state (weights, ...) into ``folder``."""

    def export_bioimageio(
        self,
        path: str | Path,
        *,
        weights: tuple[str, ...] = ("pytorch_state_dict", "torchscript", "onnx"),
        **kwargs: Any,
    ) -> Path:
        """Write a bioimage.io model package (RDF 0.5 ``.zip``); needs ``bioimageio.core``.

        See :func:`biakit.bioimageio.export_package` for the other keywords
        (``sample``, ``name``, ``description``, ``authors``, ``license``, ``overwrite``).
        """
        from biakit.bioimageio import export_package

        return export_package(self, path, weights=weights, **kwargs)

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """Load a model folder written by :meth:`save` (or by ``biakit train``)."""
        from biakit.workflows._config import parse_workflow_config

        path = Path(path)
        manifest = _folder.read_manifest(path)
        if cls.task and manifest.get("task") != cls.task:
            raise ModelFileError(
                f"{path}: holds a {manifest.get('task')!r} model, not a {cls.task!r} one; "
                "open it with biakit.workflows.load_model"
            )
        config = parse_workflow_config(manifest["config"], source=str(path / _folder.CONFIG))
        workflow = cls(config)
        workflow.training = dict(manifest.get("training") or {})
        if "thresholds" in manifest:  # upgraded from format_version 0
            workflow.thresholds = manifest["thresholds"]
        elif (path / _folder.THRESHOLDS).exists():
            workflow.thresholds = _folder.read_json(path / _folder.THRESHOLDS, "thresholds")
        workflow._read_state(path, manifest)
        return workflow

    def _read_state(self, path: Path, manifest: dict[str, Any]) -> None:
        """Restore learned state written by :meth:`_write_state`."""
