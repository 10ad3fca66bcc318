"""Workflows: a validated config in, a trained artefact, predictions and metrics out.

* :class:`SemanticSegmenter` with :class:`SemanticConfig` (class masks).
* :class:`InstanceSegmenter` with :class:`InstanceConfig` (touching objects as labels).
* :class:`Detector` with :class:`DetectionConfig` (objects as points, from heat maps).
* :func:`load_model` opens any saved model folder with the right class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biakit.workflows._base import model_format
from biakit.workflows._config import (
    InstanceConfig,
    SemanticConfig,
    WorkflowConfig,
    load_workflow_config,
)
from biakit.workflows._detection_config import DetectionConfig
from biakit.workflows._detection_io import load_point_pairs, read_points_csv, write_points_csv
from biakit.workflows.detection import Detector
from biakit.workflows.instance import InstanceSegmenter
from biakit.workflows.semantic import SemanticSegmenter

WORKFLOWS: dict[str, type] = {
    SemanticSegmenter.FORMAT: SemanticSegmenter,
    InstanceSegmenter.FORMAT: InstanceSegmenter,
    Detector.FORMAT: Detector,
}


def load_model(path: str | Path) -> Any:
    """Load a saved model folder with the workflow class that wrote it."""
    fmt = model_format(path)
    if fmt not in WORKFLOWS:
        raise ValueError(f"{path}: unknown model format {fmt!r}; known: {', '.join(WORKFLOWS)}")
    return WORKFLOWS[fmt].load(path)


def workflow_for(config: WorkflowConfig) -> Any:
    """Return a new, untrained workflow object for a validated config."""
    classes = {"semantic": SemanticSegmenter, "instance": InstanceSegmenter, "detection": Detector}
    return classes[config.task](config)


__all__ = [
    "WORKFLOWS",
    "DetectionConfig",
    "Detector",
    "InstanceConfig",
    "InstanceSegmenter",
    "SemanticConfig",
    "SemanticSegmenter",
    "WorkflowConfig",
    "load_model",
    "load_point_pairs",
    "load_workflow_config",
    "read_points_csv",
    "workflow_for",
    "write_points_csv",
]
