"""Workflows: a validated config in, a trained artefact, predictions and metrics out.

* :class:`SemanticSegmenter` with :class:`SemanticConfig` (U-Net semantic segmentation).
"""

from biakit.workflows._config import SemanticConfig, load_workflow_config
from biakit.workflows.semantic import SemanticSegmenter

__all__ = ["SemanticConfig", "SemanticSegmenter", "load_workflow_config"]
