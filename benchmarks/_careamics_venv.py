"""Create CAREamics' virtual environment and run a benchmark's CAREamics worker in it.

CAREamics 0.3.5 pins ``torchvision<=0.26``, which in turn pins an older torch, so the
CAREamics side of a benchmark runs in its own venv, ``benchmarks/_work/venv-careamics``,
made by::

    .venv/bin/python benchmarks/_careamics_venv.py

which runs (``--dry-run`` prints the commands only)::

    python3 -m venv benchmarks/_work/venv-careamics
    pip install torch==2.13.0                  # the CPU wheel, from local disk
    pip install --no-deps torchvision==0.28.0 careamics==0.3.5
    pip install torch==2.13.0 <CAREamics' other requirements, see REQUIREMENTS>

torchvision 0.28's compiled ops (``torchvision._C``) do not load beside this torch; its
Python code still declares fake kernels for them at import, which fails when the ops do
not exist. :func:`register_torchvision_stand_ins` declares the schemas of those ops (with
no kernel: CAREamics' N2V never calls them) before ``import careamics``; the worker calls
it first. The benchmark script re-starts itself in the venv with ``--careamics-worker
SPEC``; the worker imports CAREamics and NumPy only, never biakit, and writes its result
as JSON to ``spec["out"]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent / "_work" / "venv-careamics"
VENV_PYTHON = VENV / "bin" / "python"

TORCH = "torch==2.13.0"
NO_DEPS = ["torchvision==0.28.0", "careamics==0.3.5"]
# careamics 0.3.5's Requires-Dist, less torch/torchvision, with the bounds the issue names.
REQUIREMENTS = [
    "bioimageio-core>=0.9.0,<=0.11.0",
    "lightning>=2.2,<=2.6.6,!=2.6.2,!=2.6.3",
    "matplotlib<=3.11.2",
    "microssim<=0.0.5",
    "numpy>=1.21,<=2.4.6",
    "pillow<=13.0.0",
    "psutil<=7.2.2",
    "pydantic>=2.11,<2.14",
    "pyyaml<=6.0.3,!=6.0.0",
    "scikit-image<=0.26.0",
    "tifffile<=2026.3.3",
    "torchmetrics>0.7.0,<1.9.0",
    "zarr>=3.0.0,<4.0.0",
]

# torchvision 0.28's custom ops (torchvision/csrc/ops/*.cpp TORCH_LIBRARY_FRAGMENT schemas).
_TV_OPS = [
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor",
    "_roi_align_backward(Tensor grad, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, SymInt batch_size, SymInt channels, SymInt height, SymInt width, "
    "int sampling_ratio, bool aligned) -> Tensor",
    "ps_roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, int sampling_ratio) -> (Tensor, Tensor)",
    "_ps_roi_align_backward(Tensor grad, Tensor rois, Tensor channel_mapping, "
    "float spatial_scale, SymInt pooled_height, SymInt pooled_width, int sampling_ratio, "
    "SymInt batch_size, SymInt channels, SymInt height, SymInt width) -> Tensor",
    "roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width) -> (Tensor, Tensor)",
    "_roi_pool_backward(Tensor grad, Tensor rois, Tensor argmax, float spatial_scale, "
    "SymInt pooled_height, SymInt pooled_width, SymInt batch_size, SymInt channels, "
    "SymInt height, SymInt width) -> Tensor",
    "ps_roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width) -> (Tensor, Tensor)",
    "_ps_roi_pool_backward(Tensor grad, Tensor rois, Tensor channel_mapping, "
    "float spatial_scale, SymInt pooled_height, SymInt pooled_width, SymInt batch_size, "
    "SymInt channels, SymInt height, SymInt width) -> Tensor",
    "deform_conv2d(Tensor input, Tensor weight, Tensor offset, Tensor mask, Tensor bias, "
    "SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w, SymInt dilation_h, "
    "SymInt dilation_w, SymInt groups, SymInt offset_groups, bool use_mask) -> Tensor",
    "_deform_conv2d_backward(Tensor grad, Tensor input, Tensor weight, Tensor offset, "
    "Tensor mask, Tensor bias, SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w, "
    "SymInt dilation_h, SymInt dilation_w, SymInt groups, SymInt offset_groups, bool use_mask)"
    " -> (Tensor, Tensor, Tensor, Tensor, Tensor)",
]
_KEEP: list = []  # the Library objects must stay alive for their definitions to hold


def register_torchvision_stand_ins() -> None:
    """Declare torchvision's op schemas (no kernels) unless its compiled ops loaded."""
    import torch

    if hasattr(torch.ops, "torchvision") and hasattr(torch.ops.torchvision, "nms"):
        return
    lib = torch.library.Library("torchvision", "DEF")
    for schema in _TV_OPS:
        lib.define(schema)
    _KEEP.append(lib)


def run_worker(script: str, spec: dict, work: Path, what: str, timeout: float) -> dict | None:
    """Run ``script --careamics-worker SPEC`` in the CAREamics venv; return its JSON or None."""
    from _venv_worker import run_json_worker

    if not VENV_PYTHON.exists():
        print(f"CAREamics skipped: {VENV_PYTHON} missing (create it: python {__file__})")
        return None
    print(f"CAREamics: {what} (log in {work}) ...", flush=True)
    args = [script, "--careamics-worker"]
    return run_json_worker(VENV_PYTHON, args, spec, work, "CAREamics", timeout=timeout)


def create(dry_run: bool = False) -> None:
    """Create the venv and install CAREamics in it (see the module docstring)."""
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        [*pip, TORCH],
        [*pip, "--no-deps", *NO_DEPS],
        [*pip, TORCH, *REQUIREMENTS],
    ]
    for cmd in steps:
        print("+", " ".join(cmd), flush=True)
        if not dry_run:
            subprocess.check_call(cmd)
    if dry_run:
        return
    here = str(Path(__file__).resolve().parent)
    check = (
        f"import sys; sys.path.insert(0, {here!r}); import _careamics_venv as v; "
        "v.register_torchvision_stand_ins(); import careamics, torch; "
        "print('careamics', careamics.__version__, 'torch', torch.__version__)"
    )
    subprocess.check_call([str(VENV_PYTHON), "-c", check])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    create(parser.parse_args().dry_run)
