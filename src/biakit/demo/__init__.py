"""``biakit demo``: the whole pipeline on data made or shipped locally, no network.

1. Deep instance segmentation (a U-Net trained for a few minutes) against the
   classical pipeline and the pixel classifier on the same held-out synthetic
   images of touching nuclei.
2. Classical pipelines on more images: synthetic 3D nuclei, an uneven
   background, scikit-image's ``coins``.
3. ``--big``: a MitoEM-like volume of gigabytes segmented block-wise with stitched
   instance labels (bounded memory), scored against its exact labels.

Outputs: printed tables, ``report.html`` (scores, error counts, plain and
error-coded overlays, training curves and how training ended), the trained
model folder, label images, overlays and measurement tables.
"""

from biakit.demo._big import (
    BigDemoResult,
    evaluate_blockwise,
    iter_big_demo,
    run_big_demo,
    segment_mitochondria,
)
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
from biakit.demo._figures import comparison_figure
from biakit.demo._report import comparison_table, error_table, training_sentence, write_report

__all__ = [
    "BigDemoResult",
    "Comparison",
    "DemoData",
    "DemoRow",
    "MethodResult",
    "comparison_figure",
    "comparison_table",
    "demo_cases",
    "error_table",
    "evaluate_blockwise",
    "iter_big_demo",
    "iter_comparison",
    "iter_demo",
    "make_data",
    "rows_to_frame",
    "run_big_demo",
    "run_classical",
    "run_deep",
    "run_demo",
    "run_pixel_classifier",
    "segment_mitochondria",
    "training_sentence",
    "write_report",
]
