"""Pydantic configuration of paired image/target augmentation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AugmentConfig(BaseModel):
    """Which augmentations to apply, how strongly, and how often.

    Every transform whose strength is non-zero (or, for ``flip`` and
    ``rotate90``, that is switched on) is applied to a sample with probability
    ``p``, independently of the others; ``cutout`` is its own probability.
    The defaults (flips and 90-degree rotations only) are label-exact and need
    no interpolation.

    Geometry (rotation, translation, zoom, shear, elastic) is identical on
    image and target and composed into one resampling pass: the image is
    interpolated once with spline ``order`` and boundary mode ``reflect``; a
    label target once with nearest neighbour (never a new label value) and
    boundary ``target_mode``; a continuous target with ``continuous_order``.
    Intensity transforms touch the image only.

    Parameters
    ----------
    flip : bool
        Flip each spatial axis (Y and X; Z too in 3D when ``flip_z``).
    flip_z : bool
        In 3D, let ``flip`` also flip the Z axis (ignored in 2D).
    rotate90 : bool
        Rotate by a random multiple of 90 degrees in the YX plane (only 180
        degrees when Y and X sizes differ, so shapes never change).
    rotation : float
        Maximum angle in degrees of an arbitrary rotation in the YX plane,
        drawn uniformly from ``[-rotation, rotation]``; in ``[0, 180]``.
    tilt : float
        3D only: maximum angle in degrees of rotations about the Y and X axes
        (out of the YX plane); in ``[0, 180]``. Keep small for anisotropic data.
    translation : float
        Maximum shift along each axis as a fraction of that axis' size, in
        ``[0, 1]``.
    zoom : tuple of float
        ``(low, high)`` range of the isotropic scale factor, drawn
        log-uniformly; ``> 1`` magnifies.
    shear : float
        Maximum shear coefficient in the YX plane (``0.2`` shifts rows by up to
        0.2 pixel per pixel), in ``[0, 1]``.
    elastic : float
        Elastic deformation strength: standard deviation in pixels of the
        displacement at every pixel along every axis; ``0`` is off. Keep it below
        about ``elastic_sigma / 3``: stronger fields fold the image onto itself.
    elastic_sigma : float
        Correlation length in pixels of the elastic displacement field.
    brightness : float
        Maximum additive shift as a fraction of each channel's range
        (``max - min``), drawn from ``[-brightness, brightness]``.
    contrast : float
        Maximum relative contrast change: intensities are scaled about the
        channel mean by a factor drawn from ``[1 - contrast, 1 + contrast]``;
        in ``[0, 1)``.
    gamma : tuple of float
        ``(low, high)`` range of the gamma exponent, drawn log-uniformly and
        applied to each channel rescaled to ``[0, 1]`` (so negative,
        e.g. z-scored, images are safe) and then scaled back.
    blur : float
        Maximum Gaussian blur sigma in pixels (spatial axes only).
    gaussian_noise : float
        Maximum standard deviation of additive Gaussian noise, as a fraction of
        each channel's range.
    poisson_noise : float
        Maximum relative shot-noise level ``s``: each channel is shifted to be
        non-negative, scaled so its maximum holds ``1 / s**2`` expected
        photons, Poisson-sampled and scaled back.
    cutout : float
        Probability of setting one random box of the image to 0 (the target is
        left untouched: the network must infer the hidden part).
    cutout_size : float
        Maximum box side as a fraction of each axis' size, in ``(0, 1]``.
    p : float
        Probability with which each enabled transform is applied.
    order : {0, 1, 3}
        Spline order for the image (0 nearest, 1 linear, 3 cubic).
    continuous_order : {0, 1, 3}
        Spline order for continuous targets.
    target_mode : {"auto", "constant", "reflect"}
        Boundary handling for the target: ``"constant"`` fills pixels mapped
        from outside the patch with 0 (background), ``"reflect"`` mirrors like
        the image. ``"auto"`` is ``"constant"`` for labels and ``"reflect"``
        for continuous targets.

    Examples
    --------
    >>> cfg = AugmentConfig(rotation=30, elastic=2.0, brightness=0.1, p=0.7)
    >>> cfg.zoom
    (1.0, 1.0)

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    flip: bool = True
    flip_z: bool = True
    rotate90: bool = True
    rotation: float = Field(0.0, ge=0, le=180)
    tilt: float = Field(0.0, ge=0, le=180)
    translation: float = Field(0.0, ge=0, le=1)
    zoom: tuple[float, float] = (1.0, 1.0)
    shear: float = Field(0.0, ge=0, le=1)
    elastic: float = Field(0.0, ge=0)
    elastic_sigma: float = Field(8.0, gt=0)
    brightness: float = Field(0.0, ge=0)
    contrast: float = Field(0.0, ge=0, lt=1)
    gamma: tuple[float, float] = (1.0, 1.0)
    blur: float = Field(0.0, ge=0)
    gaussian_noise: float = Field(0.0, ge=0)
    poisson_noise: float = Field(0.0, ge=0)
    cutout: float = Field(0.0, ge=0, le=1)
    cutout_size: float = Field(0.25, gt=0, le=1)
    p: float = Field(0.5, ge=0, le=1)
    order: Literal[0, 1, 3] = 1
    continuous_order: Literal[0, 1, 3] = 1
    target_mode: Literal["auto", "constant", "reflect"] = "auto"

    @field_validator("zoom", "gamma")
    @classmethod
    def _check_range(cls, value: tuple[float, float], info: object) -> tuple[float, float]:
        name = getattr(info, "field_name", "range")
        low, high = value
        if not (0 < low <= high):
            raise ValueError(
                f"{name} must be a (low, high) range with 0 < low <= high; got {value!r}"
            )
        return value

    @property
    def has_geometry(self) -> bool:
        """Whether any interpolating geometric transform is enabled."""
        return bool(
            self.rotation
            or self.tilt
            or self.translation
            or self.zoom != (1.0, 1.0)
            or self.shear
            or self.elastic
        )
