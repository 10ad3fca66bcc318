"""Decode instance-encoding predictions (foreground / contour / distance / centre) into labels.

The channel layouts are those of :class:`biakit.nn.targets.InstanceEncoding`;
they are repeated here (and checked against it in the tests) so that
:mod:`biakit.segment` does not import :mod:`biakit.nn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage import segmentation

from biakit.blocks import GLOBAL, declare_halo
from biakit.segment._common import check_spacing
from biakit.validation import check_finite

CHANNELS = {
    "fg_contour": ("foreground", "contour"),
    "fg_contour_distance": ("foreground", "contour", "distance"),
    "fg_contour_distance_centre": ("foreground", "contour", "distance", "centre"),
}
SEED_CHANNELS = ("auto", "centre", "distance", "fg_contour")


@dataclass(frozen=True)
class DecodeParams:
    """Parameters of :func:`decode_instances`.

    Attributes
    ----------
    fg_threshold : float
        Foreground mask: ``foreground > fg_threshold``.
    seed_threshold : float
        Seeds: ``seed map > seed_threshold``, where the seed map is the centre
        channel, the distance channel or ``foreground - contour`` (see
        ``seed_channel``).
    contour_weight : float
        Flooding landscape ``contour_weight * contour - distance`` (without a
        distance channel: ``contour_weight * contour`` plus a small term growing
        with the physical distance to the nearest seed, to break ties).
    min_size : int
        Objects with fewer pixels are removed (set to background).
    min_seed_size : int
        Seed components with fewer pixels are dropped (noise in the seed map
        otherwise over-splits objects); their pixels are flooded from the
        remaining seeds.
    fill_holes : bool
        Fill background holes enclosed by a single object.
    spacing : float or tuple of float, optional
        Physical pixel size (a scalar: the same on every axis); ``None`` takes
        the encoding's spacing.
    seed_channel : {"auto", "centre", "distance", "fg_contour"}
        Seed map; ``"auto"`` takes the centre channel if the encoding has one,
        else the distance, else ``foreground - contour``.

    Examples
    --------
    >>> DecodeParams(fg_threshold=0.4).seed_threshold
    0.5
    """

    fg_threshold: float = 0.5
    seed_threshold: float = 0.5
    contour_weight: float = 1.0
    min_size: int = 10
    min_seed_size: int = 0
    fill_holes: bool = True
    spacing: float | tuple[float, ...] | None = None
    seed_channel: str = "auto"

    def __post_init__(self) -> None:
        for name in ("fg_threshold", "seed_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise TypeError(f"{name} must be a number in [0, 1], got {value!r}")
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        cw = self.contour_weight
        if isinstance(cw, bool) or not isinstance(cw, int | float | np.number):
            raise TypeError(f"contour_weight must be a number >= 0, got {cw!r}")
        if not (np.isfinite(cw) and cw >= 0):
            raise ValueError(f"contour_weight must be a finite number >= 0, got {cw!r}")
        for name in ("min_size", "min_seed_size"):
            ms = getattr(self, name)
            if isinstance(ms, bool) or not isinstance(ms, int | np.integer) or ms < 0:
                raise ValueError(f"{name} must be an integer >= 0 (pixels), got {ms!r}")
        if self.seed_channel not in SEED_CHANNELS:
            raise ValueError(
                f"seed_channel must be one of {SEED_CHANNELS}, got {self.seed_channel!r}"
            )
        sp = self.spacing
        if sp is not None:  # a scalar stays a scalar: the image's ndim is known only in decoding
            checked = check_spacing(sp, 1 if np.ndim(sp) == 0 else len(sp))
            object.__setattr__(self, "spacing", checked[0] if np.ndim(sp) == 0 else checked)


def _channels(enc: Any) -> tuple[tuple[str, ...], tuple[float, ...] | None]:
    """Channel names and spacing of an InstanceEncoding (duck-typed) or a mode string."""
    mode, spacing = (enc, None) if isinstance(enc, str) else (getattr(enc, "mode", None), None)
    if not isinstance(enc, str):
        spacing = getattr(enc, "spacing", None)
    if mode not in CHANNELS:
        raise ValueError(
            f"enc must be an InstanceEncoding or one of the modes {tuple(CHANNELS)}, got {enc!r}"
        )
    return CHANNELS[mode], spacing


def _check_prediction(prediction: Any, n_channels: int) -> np.ndarray:
    pred = np.asarray(prediction)
    if not (np.issubdtype(pred.dtype, np.floating) or np.issubdtype(pred.dtype, np.integer)):
        raise TypeError(f"prediction must be a numeric array, got dtype {pred.dtype}")
    if pred.ndim not in (3, 4) or pred.shape[0] != n_channels or pred.size == 0:
        raise ValueError(
            f"prediction must have shape ({n_channels}, *spatial) with 2 or 3 spatial axes "
            f"for this encoding, got {pred.shape}"
        )
    check_finite(pred, name="prediction")
    return pred.astype(np.float32, copy=False)


def _seed_map(ch: dict[str, np.ndarray], seed_channel: str) -> np.ndarray:
    if seed_channel == "auto":
        seed_channel = "centre" if "centre" in ch else "distance" if "distance" in ch else ""
    if seed_channel == "centre" or seed_channel == "distance":
        if seed_channel not in ch:
            raise ValueError(
                f"seed_channel={seed_channel!r} but the encoding has no {seed_channel} channel; "
                f"use one of {tuple(ch)} or 'auto'"
            )
        return ch[seed_channel]
    return ch["foreground"] - ch["contour"]


def _fill_holes(labels: np.ndarray) -> np.ndarray:
    """Fill background holes whose whole rim belongs to one object."""
    holes = ndi.binary_fill_holes(labels > 0) & (labels == 0)
    if not holes.any():
        return labels
    comps, n = ndi.label(holes)
    rim = ndi.binary_dilation(holes) & ~holes
    # for every hole: smallest and largest label on its rim (via the rim pixel's hole id)
    owner = ndi.grey_dilation(comps, size=(3,) * labels.ndim)
    ids = owner[rim]
    lo = ndi.minimum(labels[rim], ids, index=np.arange(1, n + 1))
    hi = ndi.maximum(labels[rim], ids, index=np.arange(1, n + 1))
    fill = np.zeros(n + 1, dtype=labels.dtype)
    single = (np.asarray(lo) == np.asarray(hi)) & (np.asarray(lo) > 0)
    fill[1:][single] = np.asarray(lo)[single]
    return np.where(holes, fill[comps], labels)


def _landscape(
    ch: dict[str, np.ndarray], markers: np.ndarray, weight: float, spacing: tuple[float, ...]
) -> np.ndarray:
    if "distance" in ch:
        return weight * ch["contour"] - ch["distance"]
    to_seed = ndi.distance_transform_edt(markers == 0, sampling=spacing)
    return weight * ch["contour"] + 1e-3 * to_seed / (1.0 + to_seed.max())


@declare_halo(GLOBAL)
def decode_instances(prediction: Any, enc: Any, params: DecodeParams | None = None) -> np.ndarray:
    """Turn a network's instance-encoding prediction into a label image.

    Marker-controlled watershed: the foreground mask is ``foreground >
    fg_threshold``; seeds are the connected components (face connectivity) of
    ``seed map > seed_threshold`` inside the mask; every mask component
    without a seed becomes one seed as a whole; the watershed floods
    ``contour_weight * contour - distance`` from the seeds within the mask;
    seed components smaller than ``min_seed_size`` are dropped first;
    objects smaller than ``min_size`` pixels are removed and holes enclosed by
    one object are filled.  Works in 2D and (anisotropic) 3D.

    Parameters
    ----------
    prediction : ndarray, shape ``(n_channels, *spatial)``
        Channels in the order of ``enc.channels``, after the sigmoid: the
        binary channels as probabilities, the distance channel as the predicted
        normalised distance (0..1), used as is.
    enc : InstanceEncoding or str
        The encoding (or its ``mode``) the network was trained with.
    params : DecodeParams, optional
        Thresholds and post-processing; defaults to ``DecodeParams()``.

    Returns
    -------
    labels : ndarray of int32
        Objects numbered ``1..n``, 0 = background.

    Raises
    ------
    TypeError, ValueError
        For a prediction of the wrong type, shape or channel count, an unknown
        encoding, a ``seed_channel`` the encoding lacks, or a bad spacing.

    Examples
    --------
    >>> import numpy as np
    >>> pred = np.zeros((2, 8, 12), dtype=np.float32)
    >>> pred[:, 1:7, 1:11] = 1  # two touching 6x5 boxes, all contour ...
    >>> pred[1, 2:6, 2:5] = pred[1, 2:6, 7:10] = 0  # ... but their insides
    >>> labels = decode_instances(pred, "fg_contour", DecodeParams(min_size=0))
    >>> int(labels.max()), labels[4, 1:11].tolist()
    (2, [1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
    """
    params = DecodeParams() if params is None else params
    if not isinstance(params, DecodeParams):
        raise TypeError(f"params must be a DecodeParams, got {type(params).__name__}")
    names, enc_spacing = _channels(enc)
    pred = _check_prediction(prediction, len(names))
    ndim = pred.ndim - 1
    spacing = params.spacing if params.spacing is not None else enc_spacing
    spacing = check_spacing(spacing, ndim)
    ch = dict(zip(names, pred))
    fg = ch["foreground"] > params.fg_threshold
    seeds = (_seed_map(ch, params.seed_channel) > params.seed_threshold) & fg
    markers, n = ndi.label(seeds)
    if params.min_seed_size > 1 and n:
        small = np.bincount(markers.ravel(), minlength=n + 1) < params.min_seed_size
        small[0] = True
        seeds &= ~small[markers]
        markers, n = ndi.label(seeds)
    comps, n_comps = ndi.label(fg)
    if n_comps:  # mask components without a seed become one object each
        seeded = np.zeros(n_comps + 1, dtype=bool)
        seeded[comps[seeds]] = True
        seeded[0] = True
        lut = np.zeros(n_comps + 1, dtype=np.int32)
        lut[~seeded] = n + 1 + np.arange(int((~seeded).sum()), dtype=np.int32)
        markers = np.where(seeds, markers, lut[comps]).astype(np.int32)
    landscape = _landscape(ch, markers, float(params.contour_weight), spacing)
    labels = segmentation.watershed(landscape, markers, mask=fg).astype(np.int32)
    if params.min_size > 0:
        sizes = np.bincount(labels.ravel())
        small = sizes < params.min_size
        small[0] = False
        labels[small[labels]] = 0
    if params.fill_holes:
        labels = _fill_holes(labels)
    present = np.bincount(labels.ravel(), minlength=1) > 0
    present[0] = False
    lut = np.zeros(present.size, dtype=np.int32)
    lut[present] = np.arange(1, int(present.sum()) + 1, dtype=np.int32)
    return lut[labels]
