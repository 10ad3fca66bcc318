"""Create the tracking peers' virtual environment and run the laptrack worker in it.

laptrack, py-ctcmetrics and traccuracy are not biakit dependencies, so the peer side of
``benchmarks/bench_tracking.py`` runs in its own venv, ``benchmarks/_work/venv-tracking``,
made by::

    .venv/bin/python benchmarks/_tracking_venv.py

which runs (``--dry-run`` prints the commands only)::

    python3 -m venv benchmarks/_work/venv-tracking
    pip install laptrack==0.17.1 py-ctcmetrics==1.3.3 traccuracy==0.4.3

The benchmark calls :func:`run_worker`, which starts ``benchmarks/_laptrack_worker.py`` in
that venv with a JSON spec (the detections on disk, the cut-offs, the output folder); the
worker imports laptrack and NumPy only, never biakit, and writes its result as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / "_work" / "venv-tracking"
VENV_PYTHON = VENV / "bin" / "python"
WORKER = HERE / "_laptrack_worker.py"
PACKAGES = ["laptrack==0.17.1", "py-ctcmetrics==1.3.3", "traccuracy==0.4.3"]


def available() -> bool:
    """Tell whether the venv exists (the benchmark skips laptrack otherwise)."""
    return VENV_PYTHON.exists()


def run_worker(spec: dict, work: Path, *, timeout: float = 600.0) -> dict | None:
    """Run the laptrack worker on ``spec`` in the venv; return its JSON result or None."""
    from _venv_worker import run_json_worker

    if not available():
        print(f"laptrack skipped: {VENV_PYTHON} missing (create it: python {__file__})")
        return None
    return run_json_worker(VENV_PYTHON, [str(WORKER)], spec, work, "laptrack", timeout=timeout)


class LaptrackServer:
    """The laptrack worker kept running (``--serve``), so runs interleave with biakit's.

    >>> with LaptrackServer(log) as lt:  # doctest: +SKIP
    ...     answer = lt.run({"points": "det.npy", "max_distance": 15.0})
    """

    def __init__(self, log: Path) -> None:
        self.log = Path(log)
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> LaptrackServer | None:
        if not available():
            print(f"laptrack skipped: {VENV_PYTHON} missing (create it: python {__file__})")
            return None
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONPATH="", MPLBACKEND="Agg")
        self._log_fh = open(self.log, "w")  # closed in __exit__
        self.proc = subprocess.Popen(
            [str(VENV_PYTHON), str(WORKER), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_fh,
            text=True,
            env=env,
        )
        return self

    def run(self, spec: dict) -> dict:
        """Send one spec, wait for its answer; raise RuntimeError on a worker error."""
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(spec) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"laptrack worker died; see {self.log}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"laptrack worker: {answer['error']} (log: {self.log})")
        return answer

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
            self._log_fh.close()


def create(dry_run: bool = False) -> None:
    """Create the venv and install the peers in it (see the module docstring)."""
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check"]
    steps = [[sys.executable, "-m", "venv", str(VENV)], [*pip, *PACKAGES]]
    for cmd in steps:
        print("+", " ".join(cmd), flush=True)
        if not dry_run:
            subprocess.check_call(cmd)
    if dry_run:
        return
    check = (
        "import laptrack, ctc_metrics, traccuracy; from importlib.metadata import version as v; "
        "print('laptrack', v('laptrack'), 'py-ctcmetrics', v('py-ctcmetrics'), "
        "'traccuracy', v('traccuracy'))"
    )
    subprocess.check_call([str(VENV_PYTHON), "-c", check])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    create(parser.parse_args().dry_run)
