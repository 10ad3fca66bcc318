"""Settings of the linker (:class:`LinkConfig`), all cut-offs in physical units."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from biakit.errors import ParameterError


class LinkConfig(BaseModel):
    """How detections are linked; every ``None`` is derived from the data.

    Distances are in physical units (those of ``spacing``) per frame; costs are
    negative log-likelihoods of a Brownian step whose per-axis sd ``sigma`` is
    estimated from unambiguous links (mutual nearest neighbours closer than
    half the typical distance between detections of one frame), around a
    global drift estimated the same way. Objects that move more than half
    their distance to each other per frame defeat that estimate: give
    ``max_speed`` then.

    Attributes
    ----------
    max_speed : float or None
        Largest speed (after the drift), in units of ``spacing`` per unit of
        ``frame_interval``; the largest step between consecutive frames is
        ``max_speed * frame_interval``. None: a step of ``5.5 * sigma``, or 1.2
        times the 99th percentile of the unambiguous steps when that is larger
        (a few fast objects). A gap of ``g`` missed frames allows
        ``sqrt(g + 1)`` times that step.
    max_gap : int
        Most consecutive missed frames a track may bridge (0: no gap closing).
    gap_penalty : float
        Extra cost per missed frame of a gap-closing link.
    divisions : bool
        Look for divisions (a second daughter split from a track).
    split_distance : float or None
        Largest distance from a mother to a daughter (units of ``spacing``);
        None: the largest step
        plus twice the median equivalent radius of the objects (from their
        area); for points, plus the larger of the step and half the median
        distance between neighbours of one frame.
    division_penalty : float
        Extra cost of a division or a merge (higher: fewer of them).
    merges : bool
        Let a track end join another track one frame later (two objects
        detected as one); off by default.
    size_weight : float
        Weight of the object-size term (log area ratio over its spread between
        unambiguous links); used when detections have an ``area``.
    intensity_weight : float
        Weight of the mean-intensity term, likewise; used when detections have
        a ``mean_intensity``.
    overlap_weight : float
        Weight of the overlap term ``-log(max(IoU, 0.05))`` between objects of
        consecutive frames; needs masks (:func:`track` computes the overlaps,
        :func:`link` takes them as ``overlaps``). 0 (default): off.
    alternative_cost : float or None
        Cost of starting or ending a track; None: ``0.55 *`` the cost of the
        largest step.

    Examples
    --------
    >>> LinkConfig(max_gap=1).max_gap
    1
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_speed: float | None = Field(None, gt=0)
    max_gap: int = Field(2, ge=0)
    gap_penalty: float = Field(2.0, ge=0)
    divisions: bool = True
    split_distance: float | None = Field(None, gt=0)
    division_penalty: float = Field(1.0, ge=0)
    merges: bool = False
    size_weight: float = Field(1.0, ge=0)
    intensity_weight: float = Field(1.0, ge=0)
    overlap_weight: float = Field(0.0, ge=0)
    alternative_cost: float | None = Field(None, gt=0)


def make_config(config: LinkConfig | None, overrides: dict[str, Any]) -> LinkConfig:
    """Merge keyword overrides into ``config``; errors name the parameter."""
    if config is not None and not isinstance(config, LinkConfig):
        raise ParameterError(f"config: expected a LinkConfig or None, got {type(config).__name__}")
    base = config.model_dump() if config is not None else {}
    unknown = sorted(set(overrides) - set(LinkConfig.model_fields))
    if unknown:
        raise ParameterError(
            f"unknown linking parameter(s) {unknown}; expected one of "
            f"{sorted(LinkConfig.model_fields)}"
        )
    try:
        return LinkConfig(**{**base, **overrides})
    except ValidationError as err:
        first = err.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        raise ParameterError(f"{name}: {first['msg']}, got {first.get('input')!r}") from None
