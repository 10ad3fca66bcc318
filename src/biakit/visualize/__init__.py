"""Pictures for people: label overlays, error-coded overlays, matched colours.

* :func:`overlay_labels`: objects coloured on a grey rendering of the image
  (3D as a maximum projection), optionally with given colours per label.
* :func:`error_overlay`: each object coloured by its outcome against the
  ground truth (true positive, false positive, missed, merged, split, see
  :func:`biakit.metrics.instance_errors`), with :func:`error_legend`.
* :func:`matched_colors`: the same colour for a true object and its matched
  prediction, so overlays of several methods can be compared object by object.
"""

from biakit.visualize._classification import (
    grad_cam,
    grad_cam_overlay,
    plot_grad_cams,
    plot_roc_curves,
    roc_curves,
)
from biakit.visualize._errors import (
    ERROR_COLORS,
    OUTCOME_NAMES,
    error_legend,
    error_overlay,
    matched_colors,
)
from biakit.visualize._lineage import (
    lineage_layout,
    plot_lineage,
    save_track_movie,
    track_overlay_frames,
)
from biakit.visualize._overlay import label_colors, overlay_labels, palette, project

__all__ = [
    "ERROR_COLORS",
    "OUTCOME_NAMES",
    "error_legend",
    "error_overlay",
    "grad_cam",
    "grad_cam_overlay",
    "label_colors",
    "lineage_layout",
    "matched_colors",
    "overlay_labels",
    "palette",
    "plot_grad_cams",
    "plot_lineage",
    "plot_roc_curves",
    "project",
    "roc_curves",
    "save_track_movie",
    "track_overlay_frames",
]
