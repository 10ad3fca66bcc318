"""The shared widget helpers in one import (split by concept into the modules below).

* :mod:`biakit.napari._reader`: :func:`layer_to_array` / :func:`layer_kwargs`, a
  napari layer's data with its axes and physical spacing (``layer.scale``) as an
  :class:`~biakit.io.ImageMeta`, and the reverse (no Qt imports).
* :mod:`biakit.napari._layers`: :func:`show_layer`, :func:`visible_region`,
  :class:`LayerPicker`.
* :mod:`biakit.napari._progress`: :class:`ProgressRow` (progress bar + status text
  + cancel button running library work through
  :func:`biakit.napari._threading.start_work`).
* :mod:`biakit.napari._panels`: :class:`ModelRow` (load / save model buttons,
  dialogs, status) and :class:`TableView` (a :class:`pandas.DataFrame`, saved as CSV).
* :mod:`biakit.napari._forms`: :class:`ParamsForm`, a form generated from a
  pydantic model's fields (values typed as YAML, checked by the model).

Qt is imported with the module: import this file only from widget code.
"""

from __future__ import annotations

from biakit.napari._forms import ParamsForm
from biakit.napari._layers import LayerPicker, show_layer, visible_region
from biakit.napari._panels import ModelRow, TableView
from biakit.napari._progress import ProgressRow, notify_error
from biakit.napari._progress import _parse_record as _parse_record
from biakit.napari._reader import layer_kwargs, layer_to_array

__all__ = [
    "LayerPicker",
    "ModelRow",
    "ParamsForm",
    "ProgressRow",
    "TableView",
    "layer_kwargs",
    "layer_to_array",
    "notify_error",
    "show_layer",
    "visible_region",
]
