"""Run a peer tool's worker script once in its own venv: JSON spec in, JSON result out."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path


def run_json_worker(
    python: Path, args: list[str], spec: dict, work: Path, name: str, *, timeout: float
) -> dict | None:
    """Write ``spec`` to ``work``, run ``python *args SPEC``, return the JSON at ``spec["out"]``.

    The worker's output goes to a log beside the spec; on failure (exit status,
    timeout or no result file) the log's last lines are printed and None returned.
    """
    work.mkdir(parents=True, exist_ok=True)
    stem = Path(spec["out"]).stem
    spec_path = work / f"spec-{stem}.json"
    spec_path.write_text(json.dumps(spec))
    log = work / f"{stem}.log"
    env = dict(os.environ, PYTHONPATH="", MPLBACKEND="Agg")
    with open(log, "w") as fh:
        try:
            rc = subprocess.call([str(python), *args, str(spec_path)], stdout=fh,
                                 stderr=subprocess.STDOUT, env=env, timeout=timeout)  # fmt: skip
        except subprocess.TimeoutExpired:
            rc = "timeout"
    out = Path(spec["out"])
    if rc != 0 or not out.exists():
        print(f"{name} failed (exit {rc}); last lines of {log}:")
        print("\n".join(log.read_text().splitlines()[-15:]))
        return None
    return json.loads(out.read_text())
