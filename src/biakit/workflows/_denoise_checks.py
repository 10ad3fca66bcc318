"""Checks of the training images a denoising run makes before it trains.

:func:`check_noise_structure`: Noise2Void (and N2V2) assume pixel-wise independent
noise; noise correlated along one axis (line-scan stripes, camera column / row
patterns) is learned as signal and kept. The check measures the noise's neighbour
correlations (:func:`biakit.preprocess.noise_structure`) on central crops of the
training images and, when the noise is correlated along one axis, logs a warning that
names structN2V's axis and line for it (or says that a structN2V line is along the
wrong axis). The record is stored in the workflow's ``training`` record.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

CROP = (1024, 32, 256)  # central crop measured: 1024^2 in 2D, 32 x 256 x 256 in 3D
MAX_CROPS = 8  # (image, channel) pairs measured, evenly spread
_AXIS_NAMES = {-1: "X", -2: "Y", -3: "Z"}

log = logging.getLogger(__name__)


def check_noise_structure(images: Sequence[np.ndarray], cfg: Any) -> dict[str, Any] | None:
    """Measure the noise structure of channel-first training images; warn when it matters.

    Parameters
    ----------
    images : sequence of ndarray
        ``(C, *spatial)`` training images of a self-supervised run.
    cfg : DenoiseConfig
        The run's configuration (``algorithm``, ``struct_axis``, ``ndim``).

    Returns
    -------
    dict or None
        ``{"correlation": [...], "axis": ..., "line": ...}`` (per spatial axis, Z Y X
        order), or None for supervised algorithms or images too small to measure.

    Examples
    --------
    >>> from scipy import ndimage as ndi
    >>> from biakit.workflows import DenoiseConfig
    >>> noise = np.random.default_rng(0).normal(size=(1, 256, 256))
    >>> striped = ndi.uniform_filter1d(noise, 5, axis=-1)  # correlated along X
    >>> check_noise_structure([striped], DenoiseConfig())["axis"]
    -1
    """
    from biakit.preprocess import noise_structure, pooled_noise_structure

    if cfg.algorithm not in ("n2v", "n2v2", "structn2v"):
        return None
    crops = [c for c in _crops(images) if min(c.shape) >= 8]
    if not crops:
        return None
    found = pooled_noise_structure([noise_structure(c) for c in crops])
    record = {"correlation": [round(c, 3) for c in found.correlation], "axis": found.axis,
              "line": found.line}  # fmt: skip
    message = _advice(found, cfg)
    if message:
        log.warning("warning: %s", message)
        record["advice"] = message
    return record


def describe_noise(image: np.ndarray) -> str:
    """One line on the noise of a single-channel ``(Y, X)`` / ``(Z, Y, X)`` image (its centre).

    Examples
    --------
    >>> describe_noise(np.random.default_rng(0).normal(size=(128, 128)))
    'neighbour correlation Y 0.02, X 0.00: pixel-wise independent (Noise2Void suits it)'
    """
    from biakit.preprocess import noise_structure
    from biakit.preprocess._noise_structure import WHITE

    found = noise_structure(_crops([np.asarray(image)[None]])[0])
    values = _values(found)
    if found.axis is not None:
        return (f"neighbour correlation {values}: correlated along {_AXIS_NAMES[found.axis]} "
                f"(structN2V: struct_axis: {found.axis}, struct_length: {found.line})")  # fmt: skip
    if max(abs(c) for c in found.correlation) < WHITE:
        return f"neighbour correlation {values}: pixel-wise independent (Noise2Void suits it)"
    return f"neighbour correlation {values}: smooth, blurred or low noise"


def _crops(images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Central :data:`CROP` crops of up to :data:`MAX_CROPS` (image, channel) pairs, spread."""
    from biakit.nn.infer._blind_spot import _central

    pairs = [(i, c) for i, im in enumerate(images) for c in range(len(im))]
    picks = np.unique(np.linspace(0, len(pairs) - 1, min(MAX_CROPS, len(pairs))).astype(int))
    planes = [np.asarray(images[i][c]) for i, c in (pairs[k] for k in picks)]
    return [plane[_central(plane.shape, *CROP)] for plane in planes]


def _values(found: Any) -> str:
    """``"Y 0.01, X 0.79"``: the lag-1 correlation per axis, named."""
    ndim = len(found.correlation)
    return ", ".join(f"{_AXIS_NAMES[a - ndim]} {c:.2f}" for a, c in enumerate(found.correlation))


def _advice(found: Any, cfg: Any) -> str | None:
    """Return the warning for a structure that does not suit the algorithm, or None."""
    if found.axis is None:
        return None
    name, values = _AXIS_NAMES[found.axis], _values(found)
    if cfg.algorithm == "structn2v":
        line_axis = cfg.struct_axis - cfg.ndim if cfg.struct_axis >= 0 else cfg.struct_axis
        if found.axis == line_axis and cfg.struct_length >= found.line:
            return None
        what = f"a line along {_AXIS_NAMES[line_axis]}"
        if found.axis == line_axis:
            what = f"{cfg.struct_length} pixels, fewer than the {found.line} it spans"
        return (f"the noise of the training images is correlated along {name} (neighbour "
                f"correlation {values}), but structn2v masks {what}; use struct_axis: "
                f"{found.axis}, struct_length: {found.line}")  # fmt: skip
    return (f"the noise of the training images is correlated along {name} (neighbour "
            f"correlation {values}; 0 for pixel-wise independent noise): {cfg.algorithm} "
            f"learns such noise as signal and keeps it; train with algorithm: structn2v, "
            f"struct_axis: {found.axis}, struct_length: {found.line}")  # fmt: skip
