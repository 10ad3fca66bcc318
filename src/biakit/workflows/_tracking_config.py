"""Config of the tracking task: linking settings, physical units, what to write."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from biakit.track import LinkConfig


class TrackingData(BaseModel):
    """Annotated sequences to calibrate on (``biakit train``) and to test on.

    Each entry is a CTC ground-truth folder (``SEQ_GT``, or its ``TRA``
    folder: ``man_trackNNN.tif`` + ``man_track.txt``).
    """

    model_config = ConfigDict(extra="forbid")

    ground_truth: list[str] = Field(min_length=1)
    test_ground_truth: list[str] = Field(default_factory=list)
    test_masks: list[str] = Field(default_factory=list)

    def resolved(self, base: Path) -> TrackingData:
        """Return a copy with relative paths taken relative to ``base`` (the YAML's folder)."""

        def fix(paths: list[str]) -> list[str]:
            return [p if Path(p).is_absolute() else str(base / p) for p in paths]

        return TrackingData(
            ground_truth=fix(self.ground_truth),
            test_ground_truth=fix(self.test_ground_truth),
            test_masks=fix(self.test_masks),
        )


class TrackingOutputs(BaseModel):
    """Which files ``predict_to_disk`` writes beside the CTC result and the tables."""

    model_config = ConfigDict(extra="forbid")

    movie: Literal["gif", "png", "none"] = "gif"
    lineage_plot: bool = True
    geff: bool = True


class TrackingConfig(BaseModel):
    """Everything a :class:`~biakit.workflows.Tracker` needs; saved with the model.

    Attributes
    ----------
    task : "tracking"
    ndim : 2 or 3
        Spatial dimensions of a frame.
    spacing : float or list of float, optional
        Pixel size per spatial axis (``(z,) y, x``) in ``unit``; None: from the
        files' metadata, else 1 pixel.
    frame_interval : float, optional
        Time between frames in ``time_unit``; None: from the metadata, else 1.
    unit, time_unit : str
        Names of the units in the tables and GEFF files.
    linking : LinkConfig
        Cut-offs and costs of the linker (physical units; None fields come
        from the data).
    fill_gaps : bool
        Paint the objects a gap-closed track missed (interpolated from its
        neighbours) into the masks, so the CTC result has no gap.
    min_length : int
        Drop tracks (whole lineages are kept) shorter than this many frames
        that neither divide nor come from a division; 1 keeps everything.
    outputs : TrackingOutputs
        Movie, lineage plot, GEFF.

    Examples
    --------
    >>> TrackingConfig(spacing=0.65, linking={"max_gap": 3}).linking.max_gap
    3
    """

    model_config = ConfigDict(extra="forbid")

    task: Literal["tracking"] = "tracking"
    ndim: Literal[2, 3] = 2
    spacing: float | list[float] | None = None
    frame_interval: float | None = Field(None, gt=0)
    unit: str = "pixel"
    time_unit: str = "frame"
    linking: LinkConfig = Field(default_factory=LinkConfig)
    fill_gaps: bool = True
    min_length: int = Field(1, ge=1)
    outputs: TrackingOutputs = Field(default_factory=TrackingOutputs)
    data: TrackingData | None = None
    output: str | None = None

    @field_validator("spacing")
    @classmethod
    def _positive_spacing(cls, value: float | list[float] | None) -> float | list[float] | None:
        values = [value] if isinstance(value, int | float) else (value or [])
        if any(not v > 0 for v in values):
            raise ValueError(f"every pixel size must be > 0, got {value}")
        return value
