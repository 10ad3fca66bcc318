"""Benchmark: biakit pixel and detection metrics vs what a user would otherwise run.

1. ``biakit.metrics.confusion_metrics`` (one bincount) vs scikit-learn
   (``precision_recall_fscore_support`` + ``confusion_matrix``) on a
   2048x2048 5-class label pair, macro averaging.
2. ``biakit.metrics.match_points`` (sparse KD-tree candidates + Hungarian per
   connected component) vs a dense distance matrix + one Hungarian
   (``scipy.spatial.distance.cdist`` + ``linear_sum_assignment``) on 5,000
   points; both solve the same problem (max matches, then min distance) and
   the script checks they agree.

Run: ``python benchmarks/bench_metrics_pixel.py`` (about one minute; needs only
the packages biakit depends on).
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from biakit.metrics import confusion_metrics, match_points


def median_time(func, repeats):
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def label_pair(seed=0, shape=(2048, 2048), k=5):
    rng = np.random.default_rng(seed)
    # blocky "segmentation": classes on a coarse grid, upsampled, plus 10 % noise
    coarse = rng.integers(0, k, size=(shape[0] // 32, shape[1] // 32))
    y_true = np.kron(coarse, np.ones((32, 32), dtype=np.int64)).astype(np.uint8)
    y_pred = y_true.copy()
    noise = rng.random(shape) < 0.1
    y_pred[noise] = rng.integers(0, k, size=int(noise.sum()))
    return y_true, y_pred


def bench_confusion():
    y_true, y_pred = label_pair()
    t_biakit, ours = median_time(lambda: confusion_metrics(y_true, y_pred, average="macro"), 7)

    def sk():
        p, r, f, _ = precision_recall_fscore_support(
            y_true.ravel(), y_pred.ravel(), average="macro", zero_division=0.0
        )
        return p, r, f, confusion_matrix(y_true.ravel(), y_pred.ravel())

    t_sk, (p, r, f, cm) = median_time(sk, 3)
    assert np.array_equal(ours.confusion_matrix, cm)
    assert abs(ours.precision - p) < 1e-12 and abs(ours.recall - r) < 1e-12
    assert abs(ours.f1 - f) < 1e-12
    print("confusion metrics, 2048x2048 uint8, 5 classes, macro")
    print(f"  biakit.confusion_metrics               median {t_biakit * 1e3:9.1f} ms")
    print(f"  sklearn prfs + confusion_matrix        median {t_sk * 1e3:9.1f} ms")
    print(f"  speed-up (sklearn / biakit)            {t_sk / t_biakit:9.1f} x")


def point_sets(seed=1, n=5000, size=2048.0):
    rng = np.random.default_rng(seed)
    true = rng.uniform(0, size, size=(n, 2))
    keep = rng.random(n) >= 0.1  # 10 % missed
    pred = true[keep] + rng.normal(0, 1.5, size=(int(keep.sum()), 2))
    extra = rng.uniform(0, size, size=(n // 10, 2))  # 10 % false detections
    return true, np.concatenate([pred, extra])


def dense_hungarian(true, pred, tol):
    d = cdist(true, pred)
    ok = d <= tol
    big = tol * (min(d.shape) + 1) + 1.0
    rows, cols = linear_sum_assignment(np.where(ok, d - big, 0.0))
    keep = ok[rows, cols]
    return int(keep.sum()), float(d[rows[keep], cols[keep]].sum())


def bench_points(tol=3.0):
    true, pred = point_sets()
    t_biakit, ours = median_time(lambda: match_points(true, pred, tolerance=tol), 7)
    t_dense, (tp, total) = median_time(lambda: dense_hungarian(true, pred, tol), 3)
    assert ours.tp == tp and abs(ours.distances.sum() - total) < 1e-6
    print(f"point matching, {len(true)} true / {len(pred)} pred points, tolerance {tol}")
    print(f"  biakit.match_points                    median {t_biakit * 1e3:9.1f} ms")
    print(f"  dense cdist + linear_sum_assignment    median {t_dense * 1e3:9.1f} ms")
    print(f"  speed-up (dense / biakit)              {t_dense / t_biakit:9.1f} x")
    print(f"  both: tp={tp}, f1={ours.f1:.4f}, mean distance={ours.mean_distance:.4f}")


if __name__ == "__main__":
    bench_confusion()
    bench_points()
