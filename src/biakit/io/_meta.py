"""Image metadata carried beside every array read or written by :mod:`biakit.io`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from biakit.axes import SPATIAL, validate_axes
from biakit.errors import ParameterError
from biakit.validation import check_spacing


@dataclass(frozen=True)
class ImageMeta:
    """Axes, physical pixel spacing and names of an image.

    Parameters
    ----------
    axes : str
        One letter per array dimension from ``TCZYX`` (e.g. ``"ZYX"``).
    spacing : tuple of float, optional
        Physical size of one step along each axis, aligned with ``axes``
        (time interval for ``T``, 1.0 for ``C``): positive finite numbers.
        Defaults to 1.0 everywhere.
    unit : str
        Spatial unit of ``spacing`` (``"micrometer"`` by default; ``"pixel"``
        when the file carried none).
    channel_names : tuple of str, optional
        Names of the channels, if any.
    extra : dict
        Format-specific extras (e.g. the HDF5 dataset path).

    Examples
    --------
    >>> m = ImageMeta("ZYX", (3.0, 0.5, 0.5))
    >>> m.spatial_axes, m.spatial_spacing
    ('ZYX', (3.0, 0.5, 0.5))
    >>> ImageMeta.default(2).axes
    'YX'
    """

    axes: str
    spacing: tuple[float, ...] | None = None
    unit: str = "micrometer"
    channel_names: tuple[str, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        axes = validate_axes(self.axes, len(self.axes))
        object.__setattr__(self, "axes", axes)
        spacing = self.spacing
        if spacing is None:
            spacing = (1.0,) * len(axes)
        elif np.ndim(spacing) != 1 or len(spacing) != len(axes):
            raise ParameterError(
                f"spacing {spacing!r} must have one entry per axis: {len(axes)} for axes {axes!r}"
            )
        object.__setattr__(self, "spacing", check_spacing(spacing, len(axes)))

    @classmethod
    def default(cls, ndim: int, *, rgb: bool = False) -> ImageMeta:
        """Metadata for an array that came without any: guessed axes, unit spacing."""
        from biakit.axes import default_axes

        return cls(default_axes(ndim, rgb=rgb), unit="pixel")

    @property
    def spatial_axes(self) -> str:
        """The spatial axes (subset of ``ZYX``) in array order."""
        return "".join(a for a in self.axes if a in SPATIAL)

    @property
    def spatial_spacing(self) -> tuple[float, ...]:
        """Spacing of the spatial axes only, in array order."""
        assert self.spacing is not None
        return tuple(s for a, s in zip(self.axes, self.spacing) if a in SPATIAL)

    def with_(self, **changes: Any) -> ImageMeta:
        """Return a copy with some fields replaced."""
        return replace(self, **changes)
