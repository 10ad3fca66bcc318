"""BioImage Model Zoo (bioimage.io) model packages, both ways (needs ``bioimageio.core``).

* :func:`export_package` -- a trained workflow as an RDF 0.5 ``.zip`` with
  ``pytorch_state_dict`` (architecture source inside), ``torchscript`` and ``onnx``
  weights, spec preprocessing, test tensors, cover, README
  (also ``Workflow.export_bioimageio``).
* :func:`load_package` -- any package (format 0.4 / 0.5; state dict, TorchScript or
  ONNX weights) as a :class:`BioimageioModel` with ``predict_maps`` / ``predict`` /
  ``predict_to_disk``, through biakit's tiled prediction.
* :func:`test_package` -- ``bioimageio.core.test_model``, quietly and offline.
* :func:`is_package` / :func:`describe_package` -- recognise / summarise a package.
* :func:`register_exporter` / :class:`TaskSpec` -- what a task puts into its package.
"""

from biakit.bioimageio import _frames  # noqa: F401 (registers the frame-prediction exporter)
from biakit.bioimageio._export import WEIGHT_FORMATS
from biakit.bioimageio._import import BioimageioModel, load_package
from biakit.bioimageio._info import describe_package, is_package
from biakit.bioimageio._package import export_package
from biakit.bioimageio._quiet import test_package
from biakit.bioimageio._tasks import EXPORTERS, TaskSpec, register_exporter

__all__ = [
    "EXPORTERS",
    "WEIGHT_FORMATS",
    "BioimageioModel",
    "TaskSpec",
    "describe_package",
    "export_package",
    "is_package",
    "load_package",
    "register_exporter",
    "test_package",
]
