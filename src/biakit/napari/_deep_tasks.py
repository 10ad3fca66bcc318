"""What each deep workflow takes from layers and gives back as layers (no Qt here).

* :data:`TASK_INFO` -- per task: the kind of target layer training needs, the
  keys of the config's ``data`` section for training from folders.
* :func:`split_planes` -- a layer's array as the images of a workflow of ``ndim``
  spatial dimensions (one image, or a stack of them).
* :func:`training_args` -- the positional arguments of ``workflow.train`` from
  the chosen layers' arrays.
* :func:`predict_layers` -- run ``workflow.predict`` on a layer's array and
  return napari layer-data tuples, a table and a text (classification).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biakit.cancel import check_cancelled
from biakit.errors import DataError, ParameterError
from biakit.io import ImageMeta

__all__ = ["TASK_INFO", "Prediction", "TaskInfo", "folder_training_data", "predict_layers",
           "split_planes",
           "training_args"]  # fmt: skip


@dataclass(frozen=True)
class TaskInfo:
    """How a task's training data come from layers and folders.

    Attributes
    ----------
    title : str
        Name shown in the task choice.
    target : {"labels", "points", "image", None}
        Layer kind of the training targets (None: the images alone).
    target_required : bool
        Whether training needs the target layer.
    folders : tuple of str
        Keys of the config's ``data`` section for the image and target folders.
    from_layers : bool
        Whether training from layers is offered.
    """

    title: str
    target: str | None
    target_required: bool
    folders: tuple[str, ...]
    from_layers: bool = True


TASK_INFO: dict[str, TaskInfo] = {
    "semantic": TaskInfo("semantic segmentation", "labels", True, ("images", "masks")),
    "instance": TaskInfo("instance segmentation", "labels", True, ("images", "masks")),
    "detection": TaskInfo("spot detection", "points", True, ("images", "points")),
    "denoise": TaskInfo("denoising (N2V / CARE)", "image", False, ("images", "targets")),
    "super_resolution": TaskInfo("super-resolution", "image", False, ("low", "high")),
    "isotropic": TaskInfo("isotropic restoration", None, False, ("high",)),
    "classification": TaskInfo("image classification", None, False, ("images",), False),
    "frame_prediction": TaskInfo("next-frame prediction", None, False, ("movies",)),
}


def split_planes(data: Any, meta: ImageMeta, ndim: int, *, name: str = "image") -> list[np.ndarray]:
    """Return a layer's array as channel-first images of ``ndim`` spatial dimensions.

    An array with one more (non-channel) axis than ``ndim`` is a stack: one image
    per plane of its first axis.

    Examples
    --------
    >>> planes = split_planes(np.zeros((3, 8, 8)), ImageMeta("ZYX"), 2)
    >>> len(planes), planes[0].shape
    (3, (1, 8, 8))
    >>> split_planes(np.zeros((8, 8, 3)), ImageMeta("YXC"), 2)[0].shape
    (3, 8, 8)
    """
    array = np.asarray(data)
    axes = meta.axes
    if "C" in axes:
        array = np.moveaxis(array, axes.index("C"), 0)
        axes = axes.replace("C", "")
    else:
        array = array[None]
    extra = len(axes) - ndim
    if extra == 0:
        return [array]
    if extra == 1:
        return [array[:, i] for i in range(array.shape[1])]
    raise DataError(
        f"{name}: a layer with axes {meta.axes!r} (shape {np.shape(data)}); the model takes "
        f"{ndim}D images, or stacks of them (one more axis)"
    )


def _targets(data: Any, images: list[np.ndarray], name: str, same_shape: bool) -> list:
    """Label / image targets as one array per image (a stack is split like its images)."""
    array, n, shape = np.asarray(data), len(images), images[0].shape[1:]
    ndim = len(shape)
    if array.ndim == ndim and n == 1:
        out = [array]
    elif array.ndim == ndim + 1 and array.shape[0] == n:
        out = [array[i] for i in range(n)]
    else:
        out = []
    if not out or (same_shape and out[0].shape != shape):
        raise DataError(
            f"{name}: shape {array.shape} does not fit {n} image(s) of shape {shape}; "
            "expected the image layer's shape"
        )
    return out


def _points(points: Any, n: int, ndim: int) -> list[np.ndarray]:
    """Point coordinates per image: a stack's points are split by their first coordinate."""
    pts = np.asarray(points, dtype=np.float64)
    pts = pts.reshape(0, ndim) if pts.size == 0 else pts
    if pts.shape[1] == ndim and n == 1:
        return [pts]
    if pts.shape[1] == ndim + 1:
        plane = np.round(pts[:, 0]).astype(int)
        return [pts[plane == i, 1:] for i in range(n)]
    raise DataError(
        f"points: coordinates with {pts.shape[1]} values for {n} image(s) of {ndim} dimensions; "
        f"expected {ndim} (or {ndim + 1} for a stack)"
    )


def training_args(task: str, ndim: int, image: tuple[Any, ImageMeta], target: Any = None) -> tuple:
    """Positional arguments of ``workflow.train`` for a task from layer arrays.

    Parameters
    ----------
    task : str
        A key of :data:`TASK_INFO`.
    ndim : int
        Spatial dimensions of the workflow's images.
    image : (array, ImageMeta)
        The training image (or stack; a time-lapse for frame prediction).
    target : array, optional
        Labels, points (data coordinates of the image) or target image.

    Examples
    --------
    >>> img = (np.zeros((2, 8, 8)), ImageMeta("ZYX"))
    >>> xs, ys = training_args("semantic", 2, img, np.zeros((2, 8, 8), int))
    >>> len(xs), ys[1].shape
    (2, (8, 8))
    >>> training_args("semantic", 2, img)
    Traceback (most recent call last):
    ...
    biakit.errors.ParameterError: target: semantic training needs a labels layer; none chosen
    """
    info = TASK_INFO.get(task)
    if info is None or not info.from_layers:
        raise ParameterError(
            f"task: {task!r} trains from folders only (data section of a config); "
            f"from layers: {', '.join(k for k, v in TASK_INFO.items() if v.from_layers)}"
        )
    if target is None and info.target_required:
        raise ParameterError(f"target: {task} training needs a {info.target} layer; none chosen")
    data, meta = image
    if task == "frame_prediction":
        movie = np.asarray(data)
        if movie.ndim != ndim + 1:
            raise DataError(f"image: a time-lapse needs {ndim + 1} axes (T + space), got "
                            f"shape {movie.shape}")  # fmt: skip
        return ([movie],)
    if task == "isotropic":
        return ([np.asarray(data)],)
    images = split_planes(data, meta, ndim)
    if target is None:
        return (images,)
    if info.target == "points":
        return images, _points(target, len(images), ndim)
    return images, _targets(target, images, "target", task != "super_resolution")


@dataclass
class Prediction:
    """What a prediction adds to the viewer: layers, a table, a line of text."""

    layers: list[tuple[Any, dict[str, Any], str]] = field(default_factory=list)
    table: Any = None
    text: str = ""


def _stacked(results: list[np.ndarray], single: bool) -> np.ndarray:
    return results[0] if single else np.stack(results)


def _scaled(meta: ImageMeta, in_shape: tuple, out_shape: tuple, stack: bool) -> tuple:
    """Layer scale of an output whose spatial shape differs from the input's (super-resolution)."""
    spacing = [s for a, s in zip(meta.axes, meta.spacing) if a != "C"]
    ratio = [o / i for o, i in zip(out_shape, in_shape)]
    lead = spacing[:1] if stack else []
    tail = spacing[len(lead):]  # fmt: skip
    return tuple(lead + [s / r for s, r in zip(tail, ratio)])


def predict_layers(workflow: Any, data: Any, meta: ImageMeta, *, name: str,
                   **kwargs: Any) -> Prediction:  # fmt: skip
    """Predict a layer's array with a workflow; return the layers, table and text to show.

    A stack of images (one axis more than the model takes) is predicted plane by
    plane, checking cancellation between planes. ``kwargs`` go to ``predict``
    (``tile_shape``, ``batch_size``, ...).
    """
    task = getattr(workflow, "task", "")
    spacing = tuple(float(s) for a, s in zip(meta.axes, meta.spacing) if a != "C")
    common = {"scale": spacing, "metadata": {"axes": meta.axes.replace("C", "")}}
    if task == "frame_prediction":
        movie = np.asarray(data)
        forecast = np.asarray(workflow.predict(movie, **kwargs))
        translate = (movie.shape[0] * spacing[0], *([0.0] * (forecast.ndim - 1)))
        kwargs_out = {**common, "name": f"{name} forecast", "translate": translate}
        text = f"forecast of {len(forecast)} frame(s)"
        return Prediction([(forecast, kwargs_out, "image")], text=text)
    if task == "classification":
        return _classify(workflow, split_planes(data, meta, workflow.input_ndim), name)
    planes = split_planes(data, meta, workflow.input_ndim)
    single = len(planes) == 1 and len(spacing) == workflow.input_ndim
    results = []
    for plane in planes:
        check_cancelled()
        results.append(workflow.predict(plane, **kwargs))
    if task == "detection":
        return _points_layer(results, single, common, name)
    out = _stacked([np.asarray(r) for r in results], single)
    if task in ("semantic", "instance") or getattr(workflow, "biakit", {}).get("task") in (
        "semantic",
        "instance",
    ):
        return Prediction([(out.astype(np.int32), {**common, "name": f"{name} {task}"}, "labels")])
    kind = f"{name} {task}" if task != "bioimageio" else f"{name} prediction"
    in_shape = planes[0].shape[1:]
    out_shape = out.shape[-len(in_shape):]  # fmt: skip
    if out.ndim > len(spacing):  # several output channels: one layer per channel
        return Prediction([(out, {"name": kind, "channel_axis": out.ndim - len(spacing) - 1,
                                  "scale": spacing}, "image")])  # fmt: skip
    scale = _scaled(meta, in_shape, out_shape, not single) if out_shape != in_shape else spacing
    return Prediction([(out.astype(np.float32), {**common, "name": kind, "scale": scale},
                        "image")])  # fmt: skip


def _points_layer(results: list, single: bool, common: dict, name: str) -> Prediction:
    coords, classes, scores = [], [], []
    for i, (pts, cls, sc) in enumerate(results):
        pts = np.asarray(pts, np.float64)
        coords.append(pts if single else np.column_stack([np.full(len(pts), i), pts]))
        classes.append(np.asarray(cls))
        scores.append(np.asarray(sc))
    data = np.concatenate(coords) if coords else np.zeros((0, 2))
    features = {"class": np.concatenate(classes), "score": np.concatenate(scores)}
    kwargs = {**common, "name": f"{name} detection", "features": features, "size": 4,
              "face_color": "magenta"}  # fmt: skip
    return Prediction([(data, kwargs, "points")], text=f"{len(data)} point(s)")


def _classify(workflow: Any, planes: list[np.ndarray], name: str) -> Prediction:
    import pandas as pd

    check_cancelled()
    probs = workflow.predict_proba(planes)
    names = list(workflow.class_names) or [str(i) for i in range(probs.shape[1])]
    ids = probs.argmax(axis=1)
    table = pd.DataFrame({"image": np.arange(len(planes)), "class_id": ids,
                          "class": [names[i] for i in ids]})  # fmt: skip
    for j, cname in enumerate(names):
        table[f"p_{cname}"] = probs[:, j]
    if len(planes) == 1:
        text = f"{name}: {names[ids[0]]} (p = {probs[0, ids[0]]:.2f})"
    else:
        counts = table["class"].value_counts()
        text = f"{name}: " + ", ".join(f"{k} x{v}" for k, v in counts.items())
    return Prediction(table=table, text=text)


def folder_training_data(cfg: Any, ndim: int) -> tuple:
    """Read the training data a config's ``data`` section names (as ``biakit train`` does).

    Returns the positional arguments of ``workflow.train``.
    """
    # the readers live with the command line for now; see the plugin's notes
    from biakit.cli import _deep as cli

    if cfg.data is None:
        raise ParameterError("data: the config has no data section; give the folders")
    if cfg.task == "detection":
        return cli._detection_data(cfg, None)[0]
    if cfg.task == "denoise":
        return cli._denoise_data(cfg, None)[0]
    if cfg.task == "frame_prediction":
        return (cli._read_movies(cfg.data.movies, None),)
    if cfg.task == "classification":
        from biakit.workflows.classification import classification_training_data

        return classification_training_data(cfg, None)[0]
    if cfg.task in ("super_resolution", "isotropic"):
        return cli._scaled_data(cfg, ndim, None)[0]
    return cli._read_pairs(cfg.data.images, cfg.data.masks, cfg.ndim, None)
