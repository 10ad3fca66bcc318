"""Run a benchmark's BiaPy worker inside BiaPy's own virtual environment.

BiaPy 3.7 pins its own torch, so the BiaPy side of a benchmark runs in
``benchmarks/_work/venv-biapy`` (``pip install biapy==3.7.0``): the benchmark script
re-starts itself there with ``--biapy-worker SPEC``; the worker imports BiaPy and NumPy
only, never biakit, and writes its result as JSON to ``spec["out"]``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

VENV_PYTHON = Path(__file__).resolve().parent / "_work" / "venv-biapy" / "bin" / "python"


def run_worker(script: str, spec: dict, work: Path, what: str) -> dict | None:
    """Run ``script --biapy-worker`` in the BiaPy venv; return its JSON result or None.

    ``spec`` must hold ``"out"`` (where the worker writes its result) and
    ``"result_dir"`` (BiaPy's job folder, whose run log is shown on failure).
    """
    if not VENV_PYTHON.exists():
        print(f"BiaPy skipped: {VENV_PYTHON} missing (see bench_biapy_unet.py to create it)")
        return None
    (work / "spec.json").write_text(json.dumps(spec))
    log = work / "biapy.log"
    print(f"BiaPy: {what} in {VENV_PYTHON.parents[1].name} (log: {log}) ...", flush=True)
    env = dict(os.environ, PYTHONPATH="", MPLBACKEND="Agg")
    with open(log, "w") as fh:
        cmd = [str(VENV_PYTHON), script, "--biapy-worker", str(work / "spec.json")]
        rc = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    out = Path(spec["out"])
    if rc != 0 or not out.exists():
        runs = sorted(Path(spec["result_dir"]).glob("*/logs/*.txt"))  # BiaPy logs there too
        shown = runs[-1] if runs and not log.read_text().strip() else log
        print(f"BiaPy failed (exit code {rc}); last lines of {shown}:")
        print("\n".join(shown.read_text().splitlines()[-15:]))
        return None
    return json.loads(out.read_text())
