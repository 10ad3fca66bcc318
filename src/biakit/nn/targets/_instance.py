"""Instance encodings: label image -> foreground / contour / distance / centre targets."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy import ndimage as ndi
from skimage.measure import label as _label_runs

from biakit.blocks import GLOBAL, declare_halo
from biakit.errors import DataError, ParameterError
from biakit.validation import check_labels, check_spacing

CHANNELS = {
    "fg_contour": ("foreground", "contour"),
    "fg_contour_distance": ("foreground", "contour", "distance"),
    "fg_contour_distance_centre": ("foreground", "contour", "distance", "centre"),
}
"""Channel names, in order, of every encoding mode."""


class InstanceEncoding(BaseModel):
    """How a label image is turned into the channels a network predicts.

    Channel order: foreground (0/1), contour (0/1), then for the distance
    modes the normalised distance to the object boundary (0..1 per object),
    then for ``"fg_contour_distance_centre"`` a centre blob (0/1).

    Parameters
    ----------
    mode : {"fg_contour", "fg_contour_distance", "fg_contour_distance_centre"}
        Which channels to produce.
    contour_width : int
        Contour thickness in pixels: object pixels within this many face-neighbour
        steps (city-block distance in pixels, whatever the spacing) of a pixel
        with a different label, background included.
    spacing : float or tuple of float, optional
        Physical pixel size per axis (a scalar: the same on every axis), used
        for the distance (and so the centre) channel; ``None`` = isotropic pixels.
    centre_threshold : float
        The centre blob is the part of the normalised distance ``>=`` this value
        that is connected to the object's innermost pixel (one blob per object).

    Examples
    --------
    >>> enc = InstanceEncoding(mode="fg_contour_distance_centre", spacing=(2.0, 1.0, 1.0))
    >>> enc.n_channels, enc.channels[2]
    (4, 'distance')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["fg_contour", "fg_contour_distance", "fg_contour_distance_centre"] = (
        "fg_contour_distance"
    )
    contour_width: int = Field(1, ge=1)
    spacing: float | tuple[float, ...] | None = None
    centre_threshold: float = Field(0.7, gt=0.0, le=1.0)

    @field_validator("spacing")
    @classmethod
    def _check_spacing(cls, value: float | tuple[float, ...] | None) -> Any:
        if value is None or np.ndim(value) == 0:  # a scalar: the same on every axis
            return None if value is None else check_spacing(value, 1)[0]
        if len(value) not in (2, 3):
            raise ParameterError(
                f"spacing must be a number or hold 2 or 3 values (YX or ZYX), got {value!r}"
            )
        return check_spacing(value, len(value))

    @property
    def channels(self) -> tuple[str, ...]:
        """Names of the output channels, in order."""
        return CHANNELS[self.mode]

    @property
    def n_channels(self) -> int:
        """Number of channels the network must predict."""
        return len(self.channels)

    @property
    def binary_channels(self) -> tuple[int, ...]:
        """Indices of the 0/1 channels (trained with binary cross-entropy)."""
        return tuple(i for i, c in enumerate(self.channels) if c != "distance")


def check_label_image(labels: Any, name: str = "labels") -> np.ndarray:
    """Apply :func:`biakit.validation.check_labels` to a non-empty 2D/3D image, not a mask."""
    arr = np.asarray(labels)
    if arr.dtype == bool:
        raise DataError(
            f"{name} must be an integer label image (0 = background), got dtype bool; "
            "label the mask's objects first (e.g. skimage.measure.label)"
        )
    arr = check_labels(arr, name=name)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise DataError(f"{name} must be a non-empty 2D or 3D array, got shape {arr.shape}")
    return arr


def resolve_spacing(spacing: Any, ndim: int, name: str = "spacing") -> tuple[float, ...]:
    """:func:`biakit.validation.check_spacing`, with ``None`` read as unit spacing."""
    return check_spacing(spacing, ndim, name=name) or (1.0,) * ndim


def sequential(labels: np.ndarray) -> np.ndarray:
    """Renumber the objects of ``labels`` to ``1..n`` (int32), keeping their order."""
    top = int(labels.max())
    if top <= 4 * labels.size + 1024:  # look-up table: linear time, no sort
        present = np.bincount(labels.ravel().astype(np.intp, copy=False), minlength=top + 1) > 0
        present[0] = False
        lut = np.zeros(top + 1, dtype=np.int32)
        lut[present] = np.arange(1, int(present.sum()) + 1, dtype=np.int32)
        return lut[labels]
    ids, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(labels.shape).astype(np.int32)
    return inverse if ids[0] == 0 else inverse + 1


def contour_mask(labels: np.ndarray, width: int = 1) -> np.ndarray:
    """Object pixels within ``width`` face-neighbour steps of a differently labelled pixel.

    Background counts as a different label; the image border does not (objects
    cut by the border are not outlined there).  Exact and vectorised: a pixel is
    on the contour iff the minimum or the maximum label in its city-block ball
    of radius ``width`` differs from its own label.

    Examples
    --------
    >>> labels = np.array([[1, 1, 1, 2, 2], [1, 1, 1, 2, 2], [0, 0, 0, 0, 0]])
    >>> contour_mask(labels).astype(int)
    array([[0, 0, 1, 1, 0],
           [1, 1, 1, 1, 1],
           [0, 0, 0, 0, 0]])
    """
    grids = np.ogrid[tuple(slice(-width, width + 1) for _ in range(labels.ndim))]
    ball = sum(np.abs(g) for g in grids) <= width
    hi = ndi.maximum_filter(labels, footprint=ball, mode="nearest")
    lo = ndi.minimum_filter(labels, footprint=ball, mode="nearest")
    return (labels > 0) & ((hi != labels) | (lo != labels))


def object_distance(
    labels: np.ndarray, spacing: tuple[float, ...]
) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Exact per-object Euclidean distance to the nearest pixel outside the object, normalised.

    One EDT per object on its bounding box grown by one pixel (clipped to the
    image, so the image border is not a boundary): ``O(sum of box sizes)``,
    i.e. about linear in the number of pixels.  The box is enough: clamping the
    nearest outside pixel into the grown box never increases its distance.
    ``labels`` must be sequential (``1..n``).

    Returns
    -------
    dnorm : ndarray of float64
        Distance divided by the object's maximum (0 on background).
    peaks : list of tuple of int
        Per object ``1..n``, the first (raster order) pixel of maximal distance.
    """
    out = np.zeros(labels.shape, dtype=np.float64)
    peaks = []
    for i, box in enumerate(ndi.find_objects(labels), start=1):
        grown = tuple(
            slice(max(s.start - 1, 0), min(s.stop + 1, n)) for s, n in zip(box, labels.shape)
        )
        obj = labels[grown] == i
        if obj.all():  # the object fills the image: no boundary at all
            dist = obj.astype(np.float64)
        else:
            dist = ndi.distance_transform_edt(obj, sampling=spacing)
        top = np.unravel_index(int(np.argmax(dist)), dist.shape)
        peaks.append(tuple(int(t + g.start) for t, g in zip(top, grown)))
        out[grown][obj] = dist[obj] / dist[top]
    return out, peaks


def _centre_blobs(
    labels: np.ndarray, dnorm: np.ndarray, peaks: list, threshold: float
) -> np.ndarray:
    """Part of ``dnorm >= threshold`` connected to each object's innermost pixel."""
    if not peaks:
        return np.zeros(labels.shape, dtype=bool)
    # connected runs of equal label, so blobs of touching objects never merge
    runs = _label_runs(np.where(dnorm >= threshold, labels, 0), background=0, connectivity=1)
    keep = np.zeros(int(runs.max()) + 1, dtype=bool)
    keep[[runs[p] for p in peaks]] = True
    keep[0] = False
    return keep[runs]


@declare_halo(GLOBAL)
def instance_targets(labels: Any, enc: InstanceEncoding) -> np.ndarray:
    """Encode a label image as the training targets of an instance segmentation network.

    Parameters
    ----------
    labels : ndarray of int
        2D ``(Y, X)`` or 3D ``(Z, Y, X)`` label image, 0 = background; labels
        need not be sequential.
    enc : InstanceEncoding
        Encoding (channels, contour width, spacing).

    Returns
    -------
    targets : ndarray of float32, shape ``(enc.n_channels, *labels.shape)``
        ``enc.channels`` in order: foreground (0/1); contour (0/1, inner
        boundary of every object towards background and towards touching
        objects); normalised distance (the exact Euclidean distance of each
        object pixel to the nearest pixel outside its object, physical with
        ``enc.spacing``, divided by the object's maximum, so in ``(0, 1]``
        inside objects and 0 on background); centre (0/1 blob around each
        object's innermost point, see :class:`InstanceEncoding`).

    Raises
    ------
    TypeError
        If ``enc`` is not an InstanceEncoding.
    DataError
        If ``labels`` is not an integer (or whole-number float) 2D/3D array or
        has negative values.
    ParameterError
        If ``enc.spacing`` does not match the dimensionality of ``labels``.

    Examples
    --------
    >>> labels = np.zeros((7, 9), dtype=np.uint16)
    >>> labels[1:6, 1:5], labels[1:6, 5:8] = 1, 2
    >>> t = instance_targets(labels, InstanceEncoding(mode="fg_contour_distance"))
    >>> t.shape, int(t[1].sum()), float(t[2].max())
    ((3, 7, 9), 26, 1.0)
    """
    if not isinstance(enc, InstanceEncoding):
        raise TypeError(f"enc must be an InstanceEncoding, got {type(enc).__name__}")
    arr = sequential(check_label_image(labels))
    spacing = resolve_spacing(enc.spacing, arr.ndim, "enc.spacing")
    out = np.zeros((enc.n_channels, *arr.shape), dtype=np.float32)
    out[0] = arr > 0
    out[1] = contour_mask(arr, enc.contour_width)
    if enc.mode == "fg_contour":
        return out
    dnorm, peaks = object_distance(arr, spacing)
    out[2] = dnorm
    if enc.mode == "fg_contour_distance_centre":
        out[3] = _centre_blobs(arr, dnorm, peaks, enc.centre_threshold)
    return out
