"""Run any bioimage.io model package through biakit's tiled prediction."""

from __future__ import annotations

import shutil
import tempfile
import weakref
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from biakit.bioimageio._geometry import TensorLayout, package_geometry
from biakit.bioimageio._import_disk import DiskOutputs
from biakit.bioimageio._run import predict_arrays
from biakit.errors import DataError, ModelFileError
from biakit.workflows._base import Workflow, channels_first
from biakit.workflows._disk import FileOutcome, PredictionReport


class BioimageioModel(DiskOutputs, Workflow):
    """A bioimage.io model package behind biakit's workflow verbs.

    ``predict_maps`` runs the package's own preprocessing on the whole image, its
    network tile by tile (:func:`biakit.nn.infer.predict_tiled`, tiles of the
    declared valid sizes along space, overlap = the declared halo; batch, time
    and channel axes whole) and its postprocessing, as ``bioimageio.core.predict``
    does for a whole image (format 0.5: padded by the halo first). Several inputs
    (spatially aligned) are tiled together. ``postprocess`` reproduces labels /
    points / class ids for packages biakit exported (``config.biakit``); otherwise
    it returns the maps (a class id for outputs without spatial axes).

    Use :func:`load_package` to open one.
    """

    task = "bioimageio"

    def __init__(self, source: Any, descr: Any, latest: Any, pipeline: Any,
                 weight_format: str) -> None:  # fmt: skip
        super().__init__(config=descr)
        self.source, self.descr, self.latest = source, descr, latest
        self.pipeline, self.weight_format = pipeline, weight_format
        self.geometry = package_geometry(latest)
        self.biakit = _biakit_config(latest)
        self._inner: Any = None
        self._last_probs: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"BioimageioModel({self.descr.name!r}, {self.weight_format})"

    @property
    def input_ndim(self) -> int:
        """Spatial dimensions of the input."""
        return self.geometry.ndim

    @property
    def is_trained(self) -> bool:
        """A package is always ready to predict."""
        return True

    @property
    def input_ids(self) -> tuple[str, ...]:
        """Ids of the input tensors, in the package's order."""
        return tuple(t.id for t in self.geometry.inputs)

    @property
    def output_ids(self) -> tuple[str, ...]:
        """Ids of the output tensors, in the package's order."""
        return tuple(t.id for t in self.geometry.outputs)

    def predict_maps(self, image: Any, *, tile_shape: Any = None, tta: bool = False,
                     batch_size: int = 1, target: int = 256) -> Any:  # fmt: skip
        """Return the processed output of the package for one image (or set of inputs).

        Parameters
        ----------
        image : array_like, sequence or mapping of array_like
            One input: ``(*spatial)`` or ``(C, *spatial)`` in biakit's axis order
            (``ZYX``); with a time axis ``(T, *spatial)`` or ``(T, C, *spatial)``.
            Several inputs: a list in the package's order or a dict by input id
            (:attr:`input_ids`), all of the same spatial size.
        tile_shape : int or sequence of int, optional
            Tiles (valid sizes of the package); default about ``target`` per side
            (biakit's frame-prediction packages: whole frames).
        tta : bool
            Not supported for packages (their processing may not commute with flips).
        batch_size : int
            Tiles per forward pass.
        target : int
            Tile side aimed at when ``tile_shape`` is not given.

        Returns
        -------
        numpy.ndarray or dict
            ``([T,] C, *spatial)`` (``(C,)`` for an output without spatial axes);
            a dict by output id (:attr:`output_ids`) when the package has several.
        """
        if tta:
            raise DataError("tta is not supported for bioimage.io packages; use tta=False")
        arrays = self._inputs(image)
        task = self.biakit.get("task")
        if task == "frame_prediction" and tile_shape is None:
            outs = [self._forecast(arrays[0], batch_size, target)]
        else:
            if task == "classification":
                arrays = [self._fit_classifier_input(arrays[0])]
            outs = predict_arrays(self, arrays, tile_shape, batch_size, target)
        return outs[0] if len(outs) == 1 else dict(zip(self.output_ids, outs))

    def _inputs(self, image: Any) -> list[np.ndarray]:
        """Return the inputs as ``([T,] C, *spatial)`` float32 arrays, checked."""
        layouts = self.geometry.inputs
        if isinstance(image, Mapping):
            unknown = sorted(set(map(str, image)) - set(self.input_ids))
            missing = [i for i in self.input_ids if i not in image]
            if unknown or missing:
                raise DataError(
                    f"inputs given for {sorted(map(str, image))}; the package's inputs are "
                    f"{list(self.input_ids)} (missing {missing}, unknown {unknown})"
                )
            values = [image[i] for i in self.input_ids]
        elif len(layouts) > 1:
            if not isinstance(image, list | tuple) or len(image) != len(layouts):
                raise DataError(
                    f"the package has {len(layouts)} inputs {list(self.input_ids)}; give a "
                    "list of that many arrays or a dict {input id: array}"
                )
            values = list(image)
        else:
            values = [image]
        arrays = [_as_layout(v, lay, self.input_ndim, self._takes_last(lay))
                  for v, lay in zip(values, layouts)]  # fmt: skip
        space = {a.shape[a.ndim - self.input_ndim :] for a in arrays}
        if len(space) > 1:
            raise DataError(
                f"inputs {list(self.input_ids)} have spatial shapes {sorted(space)}; the "
                "package needs them of one size"
            )
        return arrays

    def _takes_last(self, layout: TensorLayout) -> bool:
        """Whether to take the last ``n_input`` frames of a longer movie (biakit frame packages)."""
        return self.biakit.get("task") == "frame_prediction" and bool(layout.time)

    def _forecast(self, movie: np.ndarray, batch_size: int, target: int) -> np.ndarray:
        """Run a biakit frame package on whole frames, padded as the workflow pads them."""
        from biakit.workflows._frame_tools import pad_to_multiple

        padded, crop = pad_to_multiple(movie, self.geometry.divisor)
        space = tuple(max(n, m) for n, m in zip(padded.shape[2:], self.geometry.minimum))
        out = predict_arrays(self, [padded], space, batch_size, target)[0]
        return np.ascontiguousarray(out[crop])

    def _fit_classifier_input(self, array: np.ndarray) -> np.ndarray:
        """Bring an image to a biakit classification package's input size, as biakit does."""
        from biakit.workflows.classification import fit_shape

        spec = self.biakit.get("input") or {}
        shape = tuple(int(s) for s in spec.get("shape", ()))
        if not shape or tuple(array.shape[1:]) == shape:
            return array
        return fit_shape(array, shape, str(spec.get("resize", "resize")))

    def postprocess(self, maps: Any) -> Any:
        """Return labels / points / class id / frames (biakit packages), else the maps.

        Outputs without spatial axes give the class id (argmax); several outputs the dict.
        """
        task = self.biakit.get("task")
        if isinstance(maps, dict):
            return maps
        if task == "classification" or not self.geometry.out_space:
            return int(np.argmax(maps))
        if task == "frame_prediction":  # as FramePredictor.postprocess: (horizon, *spatial)
            out = np.asarray(maps, dtype=np.float32)
            return out[:, 0] if out.shape[1] == 1 else out
        inner = self._biakit_workflow()
        return maps if inner is None else inner.postprocess(maps)

    def _biakit_workflow(self) -> Any:
        if self._inner is None and self.biakit.get("task") in ("semantic", "instance", "detection"):
            from biakit.workflows import WORKFLOWS, parse_workflow_config

            cfg = parse_workflow_config(self.biakit["config"], source=str(self.source))
            self._inner = WORKFLOWS[self.biakit["task"]](cfg)
            self._inner.thresholds = self.biakit.get("thresholds")
            self._inner.training = dict(self.biakit.get("training") or {})
        return self._inner

    # ---------------------------------------------------------- predict_to_disk
    def iter_predict_to_disk(self, inputs: Any, output_dir: str | Path,
                             **kwargs: Any) -> Iterator[FileOutcome]:  # fmt: skip
        """Yield one outcome per input file (see :meth:`predict_to_disk`).

        Raises
        ------
        DataError
            The package has several inputs (run those from Python).
        """
        if len(self.geometry.inputs) > 1:
            raise DataError(
                f"package {self.descr.name!r} has {len(self.geometry.inputs)} inputs "
                f"{list(self.input_ids)}; biakit predict / predict_to_disk run packages with one "
                "input: in Python, give the inputs as a dict to "
                "load_model(PACKAGE).predict_maps({id: array, ...})"
            )
        if self.geometry.inputs[0].time:
            from biakit.bioimageio._import_disk import iter_movies_to_disk

            return iter_movies_to_disk(self, inputs, output_dir,
                                       overwrite=bool(kwargs.get("overwrite")),
                                       axes=kwargs.get("axes"))  # fmt: skip
        return super().iter_predict_to_disk(inputs, output_dir, **kwargs)

    def predict_to_disk(self, inputs: Any, output_dir: str | Path, *, overwrite: bool = False,
                        maps: bool = False, overlay: bool = True, tta: bool = False,
                        axes: str | None = None) -> PredictionReport:  # fmt: skip
        """Predict every input file and write its outputs into ``output_dir``.

        * biakit packages: what the task's workflow writes (labels, points, ...);
        * outputs without spatial axes (classifiers): ``predictions.csv``, a row per
          image with ``class_id``, ``class`` and a probability column ``p_NAME`` per
          class (names: ``config.biakit.class_names`` or the output's channel names);
        * inputs with a time axis (movies, ``axes`` e.g. ``"TYX"`` for files without
          metadata): ``NAME_predicted.tif`` (``T[C]YX``) per output;
        * otherwise ``NAME_prediction.tif`` (one output) or ``NAME_OUTPUTID.tif``.

        Packages with several inputs raise :class:`~biakit.errors.DataError`.
        """
        outcomes = tuple(self.iter_predict_to_disk(inputs, output_dir, overwrite=overwrite,
                                                   maps=maps, overlay=overlay, tta=tta,
                                                   axes=axes))  # fmt: skip
        batch = [p for p in self._batch_outputs(Path(output_dir)) if p.exists()]
        return PredictionReport(outcomes, tuple(batch))


def _as_layout(value: Any, layout: TensorLayout, ndim: int, take_last: bool) -> np.ndarray:
    """One input as ``([T,] C, *spatial)`` float32 (raises for a wrong shape)."""
    name = f"input {layout.id!r}"
    if not layout.time:
        array = channels_first(value, ndim, name=name).astype(np.float32)
    else:
        array = np.asarray(value, dtype=np.float32)
        if array.ndim == ndim + 1:
            array = array[:, None]
        elif array.ndim != ndim + 2:
            raise DataError(
                f"{name} has shape {array.shape}; it has a time axis: expected (T, *spatial) "
                f"with {ndim + 1} axes or (T, C, *spatial) with {ndim + 2}"
            )
        if take_last and len(layout.frames) == 2 and len(array) >= layout.frames[0]:
            array = array[len(array) - layout.frames[0] :]
        if not layout.valid_frames(len(array)):
            lo, step = layout.frames
            sizes = f"{lo}" + (f" + k*{step}" if step else "")
            raise DataError(f"{name} has {len(array)} frame(s); the package takes {sizes}")
    c = array.shape[1] if layout.time else array.shape[0]
    if layout.channels > 0 and c != layout.channels:
        raise DataError(
            f"{name} has {c} channel(s) (shape {array.shape}); the package takes "
            f"{layout.channels} channel(s)"
        )
    return array


def _biakit_config(descr: Any) -> dict[str, Any]:
    config = getattr(descr, "config", None)
    extra = getattr(config, "model_extra", None) or {}
    value = extra.get("biakit")
    return dict(value) if isinstance(value, dict) else {}


def load_package(source: str | Path, *, weight_format: str | None = None,
                 device: str = "cpu") -> BioimageioModel:  # fmt: skip
    """Open a bioimage.io model package (``.zip``, folder or ``rdf.yaml``; format 0.4 / 0.5).

    Parameters
    ----------
    source : str or Path
        The package.
    weight_format : {"pytorch_state_dict", "torchscript", "onnx"}, optional
        Weights to run; default: the first the package has of these.
    device : str
        ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    BioimageioModel
        ``predict_maps``, ``predict``, ``predict_to_disk`` as every biakit workflow.
        Tensors with a time axis are ``(T, C, *spatial)`` arrays; several inputs are
        given as a dict by input id (or a list in the package's order) and several
        outputs come back as a dict by output id.

    Raises
    ------
    ModelFileError
        Not a valid model package, or one biakit cannot run (index axes, inputs
        that are not spatially aligned, a network from a library not installed).

    Examples
    --------
    >>> model = load_package("model.zip")  # doctest: +SKIP
    >>> maps = model.predict_maps(image)  # doctest: +SKIP
    >>> two = load_package("two_inputs/rdf.yaml")  # doctest: +SKIP
    >>> sorted(two.predict_maps({"raw": raw, "aux": aux}))  # doctest: +SKIP
    ['gate', 'maps']
    """
    from biakit.bioimageio._quiet import quiet_bioimageio

    with quiet_bioimageio():
        return _load(source, weight_format, device)


def _load(source: Any, weight_format: str | None, device: str) -> BioimageioModel:
    from bioimageio.core import create_prediction_pipeline
    from bioimageio.spec import InvalidDescr, load_model_description

    folder = None
    if zipfile.is_zipfile(source):  # unpacked: a package held open would leak its handle
        folder = Path(tempfile.mkdtemp(prefix="biakit-package-"))
        with zipfile.ZipFile(source) as z:
            z.extractall(folder)
        names = [n for n in ("rdf.yaml", "bioimageio.yaml") if (folder / n).is_file()]
        names += sorted(p.name for p in folder.glob("*.bioimageio.yaml"))
        if not names:
            shutil.rmtree(folder, ignore_errors=True)
            raise ModelFileError(f"{source}: no rdf.yaml in the package")
        rdf = folder / names[0]
    else:
        rdf = Path(source)
    try:
        descr = load_model_description(rdf)
        latest = load_model_description(rdf, format_version="latest")
    except ValueError as err:
        first = " ".join(str(err).split())[:300]
        raise ModelFileError(f"{source}: not a valid bioimage.io model package ({first})") from None
    if isinstance(descr, InvalidDescr) or isinstance(latest, InvalidDescr):
        raise ModelFileError(f"{source}: not a valid bioimage.io model package")
    formats = [f for f in ("pytorch_state_dict", "torchscript", "onnx")
               if getattr(descr.weights, f, None) is not None]  # fmt: skip
    if weight_format is None:
        if not formats:
            raise ModelFileError(f"{source}: no pytorch_state_dict, torchscript or onnx weights")
        weight_format = formats[0]
    elif weight_format not in formats:
        raise ModelFileError(
            f"{source}: has no {weight_format!r} weights; it has {', '.join(formats) or 'none'}"
        )
    try:
        pipeline = create_prediction_pipeline(descr, weight_format=weight_format, devices=[device])
    except Exception as err:  # any backend failure, as one readable line
        causes = getattr(err, "exceptions", None) or [err]
        first = " ".join(f"{type(c).__name__}: {c}" for c in causes[:1]).split("\n")[0][:300]
        raise ModelFileError(
            f"{source}: cannot build its {weight_format} network ({first}); a package whose "
            "architecture comes from a library needs that library installed"
        ) from None
    model = BioimageioModel(source, descr, latest, pipeline, weight_format)
    if folder is not None:
        weakref.finalize(model, shutil.rmtree, folder, ignore_errors=True)
    return model
