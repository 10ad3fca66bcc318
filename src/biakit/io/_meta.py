"""Image metadata carried beside every array read or written by :mod:`biakit.io`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from biakit.axes import SPATIAL, validate_axes


@dataclass(frozen=True)
class ImageMeta:
    """Axes, physical pixel spacing and names of an image.

    Parameters
    ----------
    axes : str
        One letter per array dimension from ``TCZYX`` (e.g. ``"ZYX"``).
    spacing : tuple of float, optional
        Physical size of one step along each axis, aligned with ``axes``
        (time interval for ``T``, 1.0 for ``C``). Defaults to 1.0 everywhere.
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
        spacing = (
            (1.0,) * len(axes) if self.spacing is None else tuple(float(s) for s in self.spacing)
        )
        if len(spacing) != len(axes):
            raise ValueError(
                f"spacing {spacing} has {len(spacing)} entries but axes {axes!r} has {len(axes)}"
            )
        if any(not s > 0 for s in spacing):
            raise ValueError(f"spacing must be positive, got {spacing}")
        object.__setattr__(self, "spacing", spacing)

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
