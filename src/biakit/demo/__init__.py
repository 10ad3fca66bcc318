"""``biakit demo``: the whole pipeline on data made or shipped locally, no network.

1. Deep instance segmentation (a U-Net trained for a few minutes) against the
   classical pipeline and the pixel classifier on the same held-out synthetic
   images of touching nuclei.
2. Classical pipelines on more images: synthetic 3D nuclei, an uneven
   background, scikit-image's ``coins``.

Outputs: a printed table, ``report.html`` with overlays and training curves,
the trained model folder, label images and measurement tables.
"""

from biakit.demo._classical import DemoRow, demo_cases, iter_demo, rows_to_frame, run_demo
from biakit.demo._compare import (
    Comparison,
    DemoData,
    MethodResult,
    iter_comparison,
    make_data,
    run_classical,
    run_deep,
    run_pixel_classifier,
)
from biakit.demo._report import comparison_figure, write_report

__all__ = [
    "Comparison",
    "DemoData",
    "DemoRow",
    "MethodResult",
    "comparison_figure",
    "demo_cases",
    "iter_comparison",
    "iter_demo",
    "make_data",
    "rows_to_frame",
    "run_classical",
    "run_deep",
    "run_demo",
    "run_pixel_classifier",
    "write_report",
]
