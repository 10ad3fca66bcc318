"""Classify the objects of a label image: crops with context, a per-object table, a class map.

Each object of a segmentation is cut out of the intensity image with some
context around it (:func:`object_crops`), the crops go through an
:class:`~biakit.workflows.ImageClassifier` in batches (which brings each to its
``input_shape`` with its own ``fit_shape`` and normalises it), and the result is
one row per object (:func:`classify_objects`) that :func:`class_map` paints back
into a label image. The same crops, with one class per object, are a training
set: ``clf.train(object_crops(image, labels), classes)``.

Crop geometry, per spatial axis ``a`` (``extent_a`` the object's bounding box,
in pixels):

* ``square=True`` (default): the box is first widened, about its centre, to the
  object's largest extent, measured in physical units when ``spacing`` is given,
  so resizing to a square ``input_shape`` keeps the object's aspect ratio (an
  elongated cell stays elongated);
* then ``ceil(context * extent) + margin`` pixels are added on each side
  (``context`` relative to the object size, ``margin`` in pixels);
* parts outside the image are filled with the crop's per-channel median.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from biakit.errors import DataError, ParameterError


def _channels(image: Any, shape: tuple[int, ...], channel_axis: int | None) -> np.ndarray:
    """``image`` as channel-first ``(C, *shape)``; the label shape tells the layout apart."""
    arr = np.asarray(image)
    if channel_axis is not None:
        if arr.ndim != len(shape) + 1:
            raise DataError(
                f"image has shape {arr.shape}; with channel_axis={channel_axis} expected "
                f"{len(shape) + 1} dimensions for labels of shape {shape}"
            )
        arr = np.moveaxis(arr, channel_axis, 0)
    elif arr.shape == shape:
        arr = arr[np.newaxis]
    elif arr.ndim == len(shape) + 1 and arr.shape[1:] == shape and arr.shape[:-1] == shape:
        raise DataError(f"image of shape {arr.shape} could be channel-first or channel-last "
                        f"for labels of shape {shape}; pass channel_axis=0 or -1")  # fmt: skip
    elif arr.ndim == len(shape) + 1 and arr.shape[:-1] == shape:
        arr = np.moveaxis(arr, -1, 0)
    if arr.shape[1:] != shape:
        raise DataError(
            f"image has shape {np.asarray(image).shape} but labels have shape {shape}; "
            "expected the same spatial shape (channels first or last)"
        )
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise DataError(f"image has dtype {arr.dtype}; expected a real-valued (numeric) image")
    return arr


def _check_labels(labels: Any) -> np.ndarray:
    from biakit.validation import check_labels

    arr = np.asarray(labels)
    if arr.dtype.kind == "b":
        raise DataError("labels is a boolean mask; expected a label image (one id per object): "
                        "label it first, e.g. skimage.measure.label(mask)")  # fmt: skip
    arr = check_labels(arr, name="labels")
    if arr.ndim not in (2, 3):
        raise DataError(f"labels has shape {arr.shape}; expected a 2D (Y, X) or 3D (Z, Y, X) "
                        "label image")  # fmt: skip
    return arr


def _geometry(context: float, margin: int, spacing: Any, ndim: int) -> tuple:
    from biakit.validation import check_spacing

    ok = isinstance(context, int | float | np.number) and not isinstance(context, bool)
    if not ok or not math.isfinite(context) or context < 0:
        raise ParameterError(f"context must be a number >= 0 (a fraction of the object's size "
                             f"added on each side), got {context!r}")  # fmt: skip
    if isinstance(margin, bool) or not isinstance(margin, int | np.integer) or margin < 0:
        raise ParameterError(f"margin must be an int >= 0 (pixels added on each side), "
                             f"got {margin!r}")  # fmt: skip
    checked = check_spacing(spacing, ndim)
    return float(context), int(margin), checked if checked is not None else (1.0,) * ndim


def _box(sl: tuple[slice, ...], context: float, margin: int, square: bool,
         spacing: tuple[float, ...]) -> list[tuple[int, int]]:  # fmt: skip
    """``(start, stop)`` per axis of one object's crop (may reach outside the image)."""
    extents = [s.stop - s.start for s in sl]
    if square:
        side = max(e * sp for e, sp in zip(extents, spacing))
        extents = [max(e, math.ceil(side / sp - 1e-9)) for e, sp in zip(extents, spacing)]
    box = []
    for s, extent in zip(sl, extents):
        start = s.start - (extent - (s.stop - s.start)) // 2
        pad = math.ceil(context * extent - 1e-9) + margin
        box.append((start - pad, start + extent + pad))
    return box


def _cut(image: np.ndarray, box: list[tuple[int, int]]) -> np.ndarray:
    """Return the crop ``image[:, box]``, outside parts filled with the per-channel median."""
    inside = tuple(slice(max(a, 0), min(b, n)) for (a, b), n in zip(box, image.shape[1:]))
    part = image[(slice(None), *inside)]
    if all(a >= 0 and b <= n for (a, b), n in zip(box, image.shape[1:])):
        return np.array(part)
    pad = [(0, 0)] + [(max(-a, 0), max(b - n, 0)) for (a, b), n in zip(box, image.shape[1:])]
    fill = np.median(part.reshape(part.shape[0], -1), axis=1)
    return np.stack([np.pad(c, pad[1:], constant_values=f) for c, f in zip(part, fill)])


def _cut_with_mask(image: np.ndarray, labels: np.ndarray, label: int,
                   box: list[tuple[int, int]]) -> np.ndarray:  # fmt: skip
    """Return :func:`_cut` of the image plus a last channel: 1 on object ``label``, 0 elsewhere."""
    crop = _cut(image, box)
    inside = tuple(slice(max(a, 0), min(b, n)) for (a, b), n in zip(box, labels.shape))
    pad = [(max(-a, 0), max(b - n, 0)) for (a, b), n in zip(box, labels.shape)]
    mask = np.pad(labels[inside] == label, pad).astype(crop.dtype)
    return np.concatenate([crop, mask[np.newaxis]])


def _crop(image: np.ndarray, labels: np.ndarray, label: int, sl: tuple[slice, ...],
          geometry: tuple, square: bool, mask: bool) -> np.ndarray:  # fmt: skip
    box = _box(sl, geometry[0], geometry[1], square, geometry[2])
    return _cut_with_mask(image, labels, label, box) if mask else _cut(image, box)


def _objects(labels: np.ndarray) -> list[tuple[int, tuple[slice, ...]]]:
    from scipy import ndimage as ndi

    lab = labels if labels.dtype.kind in "iu" else labels.astype(np.int64)
    if lab.dtype.itemsize > 4 or lab.dtype == np.uint32:
        lab = lab.astype(np.int64)
    found = ndi.find_objects(lab)
    return [(i + 1, sl) for i, sl in enumerate(found) if sl is not None]


def object_crops(
    image: Any,
    labels: Any,
    *,
    context: float = 0.5,
    margin: int = 0,
    square: bool = True,
    spacing: float | Sequence[float] | None = None,
    channel_axis: int | None = None,
    mask: bool = False,
) -> list[np.ndarray]:
    """Cut every object of ``labels`` out of ``image`` with context, in label order.

    Parameters
    ----------
    image : array_like
        Intensity image of the labels' shape, grey or with a channel axis
        (first or last: told apart by the labels' shape; ``channel_axis`` when ambiguous).
    labels : array_like of int
        2D or 3D label image, 0 = background.
    context : float
        Fraction of the object's (squared) extent added on each side.
    margin : int
        Pixels added on each side, on top of ``context``.
    square : bool
        Widen the box to the object's largest extent (physical units with
        ``spacing``) so a later resize keeps the aspect ratio.
    spacing : float or sequence of float, optional
        Pixel size per axis (default 1); only the ``square`` box uses it.
    channel_axis : int, optional
        The image's channel axis when it cannot be told from the shapes.
    mask : bool
        Append the object's mask as a last channel (1 on the object, 0 on the
        background and on other objects): the network then knows which object of
        a crowded crop to classify and sees its exact outline and size, which the
        image alone may not show (touching cells, another microscope's contrast).
        A classifier trained on such crops has one channel more than the image;
        :func:`classify_objects` then adds the mask by itself.

    Returns
    -------
    crops : list of numpy.ndarray
        One channel-first crop ``(C, *box)`` (``C + 1`` with ``mask``) per object,
        in ascending label order (the labels are ``numpy.unique(labels)[1:]``), in
        the image's dtype.

    Examples
    --------
    >>> labels = np.zeros((20, 20), int)
    >>> labels[4:8, 5:7] = 1
    >>> [c.shape for c in object_crops(np.ones((20, 20)), labels, context=0.5)]
    [(1, 8, 8)]
    >>> crop = object_crops(np.ones((20, 20)), labels, context=0.5, mask=True)[0]
    >>> crop.shape, int(crop[1].sum())
    ((2, 8, 8), 8)
    """
    lab = _check_labels(labels)
    img = _channels(image, lab.shape, channel_axis)
    geometry = _geometry(context, margin, spacing, lab.ndim)
    _check_flag(mask, "mask")
    return [_crop(img, lab, i, sl, geometry, bool(square), mask) for i, sl in _objects(lab)]


def _check_flag(value: Any, name: str) -> None:
    if not isinstance(value, bool | np.bool_):
        raise ParameterError(f"{name} must be True or False, got {value!r}")


def _check_classifier(classifier: Any, ndim: int) -> tuple[str, ...]:
    if getattr(classifier, "task", None) != "classification":
        task = getattr(classifier, "task", None)
        got = f"a {task!r} model" if task else f"a {type(classifier).__name__}"
        raise TypeError(f"classifier must be an ImageClassifier (task 'classification'), got "
                        f"{got}; train one with task: classification")  # fmt: skip
    classifier._require_trained()
    if classifier.config.ndim != ndim:
        raise DataError(f"labels are {ndim}D but the classifier was trained on "
                        f"{classifier.config.ndim}D images (input_shape "
                        f"{tuple(classifier.config.input_shape)})")  # fmt: skip
    return tuple(classifier.class_names)


def classify_objects(
    classifier: Any,
    image: Any,
    labels: Any,
    *,
    context: float = 0.5,
    margin: int = 0,
    square: bool = True,
    spacing: float | Sequence[float] | None = None,
    channel_axis: int | None = None,
    measure: bool | Sequence[str] = False,
    batch_size: int = 64,
    tta: bool = False,
    mask: bool | None = None,
) -> pd.DataFrame:
    """Classify every object of a label image from a crop around it.

    Crops are cut as in :func:`object_crops` (same ``context``, ``margin``,
    ``square``, ``spacing``, ``channel_axis``) ``batch_size`` objects at a time,
    so memory stays bounded for large label images, and passed to
    ``classifier.predict_proba`` (which brings them to its ``input_shape``).

    Parameters
    ----------
    classifier : ImageClassifier
        A trained classifier of the labels' dimensionality and the image's channels.
    image, labels : array_like
        Intensity image and 2D / 3D label image (0 = background).
    measure : bool or sequence of str
        Also measure each object with :func:`biakit.measure.measure_objects`
        (``True``: its default properties, with intensities; or the property
        names) and join the columns on ``label``, in ``spacing`` units.
    batch_size : int
        Objects classified per batch.
    tta : bool
        Average the probabilities over flips.
    mask : bool, optional
        Append each object's mask as a last channel (see :func:`object_crops`).
        Default: when the classifier was trained with one channel more than
        the image has, i.e. on crops made with ``mask=True``.
    context, margin, square, spacing, channel_axis
        See :func:`object_crops`.

    Returns
    -------
    table : pandas.DataFrame
        One row per object, ascending ``label``: ``label``, ``class_id``,
        ``class`` (name), ``p_NAME`` per class (softmax probabilities), then
        the measurements. ``table.attrs["class_names"]`` holds the class names;
        :func:`class_map` paints the classes back into an image.

    Examples
    --------
    >>> from biakit.workflows import ClassificationConfig, ImageClassifier
    >>> from biakit.data import phenotype_crops
    >>> crops = phenotype_crops(2, (16, 16), seed=0)
    >>> clf = ImageClassifier(ClassificationConfig(input_shape=(16, 16),
    ...     model={"base_filters": 2, "stages": [1]}, train={"epochs": 1}))
    >>> _ = clf.train(crops.images, crops.labels, class_names=crops.class_names)
    >>> labels = np.zeros((32, 32), int)
    >>> labels[4:10, 4:10], labels[20:24, 18:30] = 1, 2
    >>> table = classify_objects(clf, np.random.default_rng(0).random((32, 32)), labels)
    >>> table.columns[:3].tolist(), table["label"].tolist()
    (['label', 'class_id', 'class'], [1, 2])
    """
    lab = _check_labels(labels)
    names = _check_classifier(classifier, lab.ndim)
    img = _channels(image, lab.shape, channel_axis)
    if mask is None:
        mask = classifier.in_channels == img.shape[0] + 1
    _check_flag(mask, "mask")
    if img.shape[0] + int(mask) != classifier.in_channels:
        extra = " + the object mask" if mask else ""
        raise DataError(f"image has {img.shape[0]} channel(s){extra}; the classifier was trained "
                        f"on {classifier.in_channels}")  # fmt: skip
    geometry = _geometry(context, margin, spacing, lab.ndim)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        batch_size = 0
    if batch_size < 1:
        raise ParameterError(f"batch_size must be a positive int, got {batch_size!r}")
    objects = _objects(lab)
    probs = np.zeros((len(objects), len(names)), np.float32)
    for start in range(0, len(objects), batch_size):
        chunk = objects[start : start + batch_size]
        crops = [_crop(img, lab, i, sl, geometry, bool(square), mask) for i, sl in chunk]
        probs[start : start + len(chunk)] = classifier.predict_proba(
            crops, tta=tta, batch_size=batch_size
        )
    ids = probs.argmax(axis=1)
    table = pd.DataFrame({"label": np.array([i for i, _ in objects], dtype=np.int64),
                          "class_id": ids.astype(np.int64),
                          "class": pd.Series([names[i] for i in ids], dtype=object)})  # fmt: skip
    for k, name in enumerate(names):
        table[f"p_{name}"] = probs[:, k]
    if measure is not False and measure is not None:
        table = _with_measurements(table, img, lab, spacing, measure)
    table.attrs["class_names"] = list(names)
    return table


def _with_measurements(table: pd.DataFrame, img: np.ndarray, lab: np.ndarray, spacing: Any,
                       measure: bool | Sequence[str]) -> pd.DataFrame:  # fmt: skip
    from biakit.measure import measure_objects

    props = None if measure is True else list(measure)  # type: ignore[arg-type]
    intensity, axis = (img[0], None) if img.shape[0] == 1 else (img, 0)
    found = measure_objects(lab, intensity, spacing=spacing, properties=props, channel_axis=axis)
    if props is not None and "label" not in props:
        found = found.loc[:, [c for c in found.columns if c == "label" or c not in table]]
    merged = table.merge(found, on="label", how="left", validate="one_to_one")
    merged.attrs = dict(found.attrs)
    return merged


def class_map(labels: Any, table: pd.DataFrame, *, column: str = "class_id") -> np.ndarray:
    """Paint each object with its class id + 1 (0 = background, objects not in the table too).

    Parameters
    ----------
    labels : array_like of int
        The label image that was classified.
    table : pandas.DataFrame
        Columns ``label`` and ``column`` (class ids ``>= 0``), e.g. from
        :func:`classify_objects`.
    column : str
        Column holding the class ids.

    Returns
    -------
    classes : numpy.ndarray
        uint8 image (uint16 beyond 254 classes) of the labels' shape.

    Examples
    --------
    >>> labels = np.array([[0, 1, 2, 2]])
    >>> class_map(labels, pd.DataFrame({"label": [1, 2], "class_id": [2, 0]})).tolist()
    [[0, 3, 1, 1]]
    """
    lab = _check_labels(labels).astype(np.int64, copy=False)
    for col in ("label", column):
        if col not in table.columns:
            raise DataError(f"table has no column {col!r}; columns: {list(table.columns)}")
    ids = table[column].to_numpy()
    if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0):
        raise DataError(f"table[{column!r}] must hold class ids >= 0, got {ids[:5].tolist()}")
    dtype = np.uint8 if ids.max(initial=0) < 255 else np.uint16
    lut = np.zeros(int(lab.max(initial=0)) + 1, dtype)
    keys = table["label"].to_numpy().astype(np.int64)
    keep = (keys > 0) & (keys < lut.size)
    lut[keys[keep]] = ids[keep] + 1
    return lut[lab]
