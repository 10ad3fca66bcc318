"""napari plugin: every biakit task in the viewer (``pip install "biakit[napari]"``).

The widgets are thin views over the same objects the Python API and the command
line use (pipelines, :class:`biakit.PixelClassifier`, the deep workflows, the
tracker, the evaluation); no algorithm lives here. Long work runs in napari thread
workers that consume the library's progress generators and stop at the next batch,
tile or block when the widget's cancel button is pressed (:mod:`biakit.cancel`).

The manifest is ``napari.yaml`` beside this file (npe2); napari finds it through
the ``napari.manifest`` entry point.
"""

from __future__ import annotations

__all__: list[str] = []
