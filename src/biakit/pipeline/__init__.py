"""Classical pipelines: named steps from YAML or Python, run on images or folders.

>>> from biakit.pipeline import Pipeline
>>> Pipeline([{"step": "threshold", "method": "otsu"}, "fill_holes"])
Pipeline(name='pipeline', steps=[threshold, fill_holes])
"""

from biakit.pipeline._config import (
    ConfigError,
    OutputConfig,
    PipelineConfig,
    StepConfig,
    load_config,
    parse_config,
)
from biakit.pipeline._files import FileResult, iter_run_files, output_paths, run_files
from biakit.pipeline._pipeline import DEFAULT_STEPS, Pipeline, PipelineError, PipelineResult
from biakit.pipeline._steps import STEPS, StepSpec, params_model, step_names

__all__ = [
    "DEFAULT_STEPS",
    "STEPS",
    "ConfigError",
    "FileResult",
    "OutputConfig",
    "Pipeline",
    "PipelineConfig",
    "PipelineError",
    "PipelineResult",
    "StepConfig",
    "StepSpec",
    "iter_run_files",
    "load_config",
    "output_paths",
    "params_model",
    "parse_config",
    "run_files",
    "step_names",
]
