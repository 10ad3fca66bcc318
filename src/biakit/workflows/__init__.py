"""Workflows: one facade per task, one contract (see :mod:`biakit.workflows._base`).

* :class:`SemanticSegmenter` with :class:`SemanticConfig` (class masks).
* :class:`InstanceSegmenter` with :class:`InstanceConfig` (touching objects as labels).
* :class:`Detector` with :class:`DetectionConfig` (objects as points, from heat maps).
* :class:`Denoiser` with :class:`DenoiseConfig` (N2V, N2V2, structN2V, CARE, Noise2Noise).
* :class:`SuperResolver` with :class:`SuperResolutionConfig` (EDSR-lite / RCAN-lite, 2D, 3D).
* :class:`IsotropicRestorer` with :class:`IsotropicConfig` (axial resolution of stacks).
* :class:`ImageClassifier` with :class:`ClassificationConfig` (images to classes).
* :class:`FramePredictor` with :class:`FramePredictionConfig` (next frames of time-lapses:
  SimVP / ConvLSTM).
* :class:`Tracker` with :class:`TrackingConfig` (time-lapse labels or points to lineages).
* :class:`Workflow` / :class:`NetworkWorkflow`: the base classes a new task subclasses,
  then registers with :func:`register_workflow`.
* :func:`load_model` opens any model folder with the right class; :func:`workflow_for`
  makes an untrained workflow for a config; :func:`parse_workflow_config` /
  :func:`load_workflow_config` validate configs through one union on ``task``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biakit.errors import ModelFileError
from biakit.io import read_points_csv, write_points_csv
from biakit.workflows._base import Workflow
from biakit.workflows._classification_config import ClassificationConfig
from biakit.workflows._classify_objects import class_map, classify_objects, object_crops
from biakit.workflows._config import (
    TASKS,
    InstanceConfig,
    SemanticConfig,
    WorkflowConfig,
    config_schema,
    load_workflow_config,
    parse_workflow_config,
    register_task_config,
)
from biakit.workflows._denoise_config import DenoiseConfig, DenoiseDataOptions
from biakit.workflows._detection_config import DetectionConfig
from biakit.workflows._detection_io import load_point_pairs
from biakit.workflows._disk import FileOutcome, PredictionReport
from biakit.workflows._folder import FORMAT_VERSION, read_manifest
from biakit.workflows._frame_config import (
    FrameDataOptions,
    FramePredictionConfig,
    ObjectScoreOptions,
    RolloutOptions,
)
from biakit.workflows._iso_config import IsotropicConfig
from biakit.workflows._network import NetworkWorkflow
from biakit.workflows._results import Evaluation
from biakit.workflows._sr_config import SuperResolutionConfig
from biakit.workflows._tracking_config import TrackingConfig
from biakit.workflows.classification import (
    ImageClassifier,
    load_classification_data,
    write_classification_report,
)
from biakit.workflows.denoise import Denoiser
from biakit.workflows.detection import Detector
from biakit.workflows.frame_prediction import FramePredictor
from biakit.workflows.instance import InstanceSegmenter
from biakit.workflows.isotropic import IsotropicRestorer
from biakit.workflows.semantic import SemanticSegmenter
from biakit.workflows.super_resolution import SuperResolver
from biakit.workflows.tracking import Tracker, TrackingResult

WORKFLOWS: dict[str, type[Workflow]] = {}


def register_workflow(cls: type[Workflow]) -> type[Workflow]:
    """Register a workflow class (and its config) under ``cls.task``."""
    WORKFLOWS[cls.task] = cls
    if cls.config_class not in TASKS.values():
        register_task_config(cls.config_class)
    return cls


for _cls in (
    SemanticSegmenter,
    InstanceSegmenter,
    Detector,
    Denoiser,
    SuperResolver,
    IsotropicRestorer,
    Tracker,
    ImageClassifier,
    FramePredictor,
):
    register_workflow(_cls)


def load_model(path: str | Path) -> Any:
    """Load a model folder with the workflow class of its task, or a bioimage.io package.

    Raises
    ------
    ModelFileError
        Not a model folder, an unknown task, damaged or tampered files.
    """
    from biakit.bioimageio._info import is_package

    if is_package(path):  # a bioimage.io package (zip, folder or rdf.yaml), any tool's
        from biakit.bioimageio import load_package

        return load_package(path)
    task = read_manifest(path).get("task")
    if task not in WORKFLOWS:
        raise ModelFileError(f"{path}: unknown task {task!r}; known: {', '.join(WORKFLOWS)}")
    return WORKFLOWS[task].load(path)


def workflow_for(config: WorkflowConfig) -> Any:
    """Return a new, untrained workflow object for a validated config."""
    return WORKFLOWS[config.task](config)


__all__ = [
    "FORMAT_VERSION",
    "TASKS",
    "WORKFLOWS",
    "ClassificationConfig",
    "DenoiseConfig",
    "DenoiseDataOptions",
    "Denoiser",
    "DetectionConfig",
    "Detector",
    "Evaluation",
    "FileOutcome",
    "FrameDataOptions",
    "FramePredictionConfig",
    "FramePredictor",
    "ImageClassifier",
    "InstanceConfig",
    "InstanceSegmenter",
    "IsotropicConfig",
    "IsotropicRestorer",
    "NetworkWorkflow",
    "ObjectScoreOptions",
    "PredictionReport",
    "RolloutOptions",
    "SemanticConfig",
    "SemanticSegmenter",
    "SuperResolutionConfig",
    "SuperResolver",
    "Tracker",
    "TrackingConfig",
    "TrackingResult",
    "Workflow",
    "WorkflowConfig",
    "class_map",
    "classify_objects",
    "config_schema",
    "load_classification_data",
    "load_model",
    "load_point_pairs",
    "load_workflow_config",
    "object_crops",
    "parse_workflow_config",
    "read_manifest",
    "read_points_csv",
    "register_workflow",
    "workflow_for",
    "write_classification_report",
    "write_points_csv",
]
