"""Run laptrack 0.17.1 on given detections; runs in benchmarks/_work/venv-tracking, never biakit.

Started by :mod:`_tracking_venv` (``python _laptrack_worker.py SPEC.json`` once, or
``python _laptrack_worker.py --serve``: one JSON spec per stdin line, one JSON answer per
stdout line, so a benchmark can interleave laptrack and biakit runs). A spec::

    {"points": "det.npy",          # rows (t, (z,) y, x) in pixels, one per detection
     "spacing": [1.0, 1.0],        # pixel size per spatial axis (cut-offs are physical)
     "max_distance": 15.0,         # largest step between consecutive frames (physical)
     "max_gap": 2,                 # most missed frames a gap-closing link bridges
     "split_distance": 20.0,       # largest mother-daughter distance; null: no splitting
     "defaults": false,            # true: LapTrack() with its defaults, the fields above unused
     "repeats": 1,                 # timed runs of LapTrack.predict
     "masks": "masks.npy",         # optional label movie T(Z)YX, and
     "mask_labels": "labels.npy",  # the label of each detection in its frame
     "res_dir": "SEQ_RES",         # optional: write laptrack's raw CTC output here
     "out": "result.json"}         # one-shot mode only

Settings follow laptrack's own examples (``docs/examples/cell_segmentation.ipynb``):
squared-Euclidean costs on physical coordinates, ``cutoff = max_distance**2``, gap closing
over ``max_gap + 1`` frames with ``gap_closing_cutoff = (max_distance * sqrt(max_gap + 1))**2``
(the same growth with the gap as biakit's), ``splitting_cutoff = split_distance**2``, no
merging; alternative costs estimated by laptrack (its defaults).

The answer holds ``edges`` (pairs of detection rows: every link laptrack made, division
and gap-closing links included), ``seconds`` (wall time of each ``predict``), and with
``res_dir`` laptrack's raw CTC output: masks painted with ``track_id + 1``, ``res_track.txt``
with one ``L B E P`` row per laptrack track (a track runs across its gaps; children of a
split get the parent's label) and ``raw_valid``, py-ctcmetrics' verdict on it (laptrack
keeps a gap-closed track as one label, so a track missing from a frame between its
begin and end makes the output invalid by the CTC rules).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def _settings(spec: dict) -> dict:
    if spec.get("defaults"):
        return {}
    d = float(spec["max_distance"])
    gap = int(spec.get("max_gap", 2))
    split = spec.get("split_distance")
    return {
        "metric": "sqeuclidean",
        "cutoff": d**2,
        "gap_closing_metric": "sqeuclidean",
        "gap_closing_cutoff": (d * np.sqrt(gap + 1)) ** 2 if gap > 0 else False,
        "gap_closing_max_frame_count": max(gap + 1, 1),
        "splitting_metric": "sqeuclidean",
        "splitting_cutoff": float(split) ** 2 if split else False,
        "merging_cutoff": False,
    }


def run(spec: dict) -> dict:
    """Track the spec's detections with laptrack; see the module docstring."""
    import pandas as pd
    from laptrack import LapTrack, __version__
    from laptrack.data_conversion import dataframe_to_coords_frame_index, tree_to_dataframe

    points = np.load(spec["points"])
    ndim = points.shape[1] - 1
    spacing = np.asarray(spec.get("spacing") or [1.0] * ndim, float)
    cols = ["z", "y", "x"][3 - ndim :]
    df = pd.DataFrame(points[:, 1:] * spacing, columns=cols)
    df.insert(0, "frame", points[:, 0].astype(int))
    coords, frame_index = dataframe_to_coords_frame_index(df, cols, "frame")
    settings = _settings(spec)
    lt = LapTrack(**settings)
    seconds = []
    tree = None
    for _ in range(int(spec.get("repeats", 1))):
        start = time.perf_counter()
        tree = lt.predict(coords)
        seconds.append(time.perf_counter() - start)
    row_of = {tuple(int(v) for v in fi): i for i, fi in enumerate(frame_index)}
    edges = sorted([row_of[tuple(map(int, a))], row_of[tuple(map(int, b))]] for a, b in tree.edges)
    answer = {
        "laptrack": __version__,
        "settings": settings,
        "seconds": seconds,
        "edges": edges,
        "n_detections": len(points),
    }
    if spec.get("res_dir"):
        track_df, split_df, _ = tree_to_dataframe(tree)  # index: (frame, index)
        track = np.zeros(len(points), np.int64)
        for (f, i), tid in track_df["track_id"].items():
            track[row_of[(int(f), int(i))]] = int(tid) + 1
        splits = split_df.to_numpy().tolist() if len(split_df) else []
        answer.update(_write_raw_ctc(spec, track, splits))
    return answer


def _write_raw_ctc(spec: dict, track: np.ndarray, splits: list) -> dict:
    """Laptrack's result as a user following its examples writes it for the CTC.

    ``track``: laptrack's ``track_id + 1`` of every detection row; ``splits``: its
    ``split_df`` rows ``(parent_track_id, child_track_id)``.
    """
    import tifffile

    masks = np.load(spec["masks"])
    labels = np.load(spec["mask_labels"])
    out = np.zeros(masks.shape, np.uint16)
    frames = np.load(spec["points"])[:, 0].astype(int)
    for f in range(masks.shape[0]):
        here = frames == f
        if here.any():
            lut = np.zeros(int(max(masks[f].max(), labels[here].max())) + 1, np.uint16)
            lut[labels[here]] = track[here]
            out[f] = lut[masks[f]]
    rows = []
    parents = {int(child) + 1: int(parent) + 1 for parent, child in splits}
    for label in np.unique(track):
        t = frames[track == label]
        rows.append([int(label), int(t.min()), int(t.max()), int(parents.get(label, 0))])
    res = Path(spec["res_dir"])
    res.mkdir(parents=True, exist_ok=True)
    digits = max(3, len(str(masks.shape[0] - 1)))
    for f in range(masks.shape[0]):
        tifffile.imwrite(res / f"mask{f:0{digits}d}.tif", out[f], compression="zlib")
    (res / "res_track.txt").write_text("".join(" ".join(map(str, r)) + "\n" for r in rows))
    from ctc_metrics.scripts.validate import validate_sequence

    valid = validate_sequence(str(res), threads=1)["Valid"]
    return {"raw_valid": bool(valid), "raw_table": rows}


def _serve() -> None:
    """Answer one JSON spec per stdin line with one JSON line (laptrack's prints go to stderr)."""
    answer_to = sys.stdout
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = run(json.loads(line))
        except Exception as exc:  # report, keep serving
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        answer_to.write(json.dumps(reply) + "\n")
        answer_to.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        _serve()
    else:
        spec = json.loads(Path(sys.argv[1]).read_text())
        Path(spec["out"]).write_text(json.dumps(run(spec)))
