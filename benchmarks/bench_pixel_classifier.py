"""End-to-end trainable segmentation: biakit.PixelClassifier vs scikit-image's trainable segmenter.

scikit-image's recipe (``skimage.feature.multiscale_basic_features`` + a scikit-learn
random forest via ``skimage.future.fit_segmenter`` / ``predict_segmenter``) is what a
Python user would otherwise pick. Both get the same synthetic image, the same ~1%
scribbles and a 100-tree random forest; the script prints training and prediction
times (medians), their ratios and the foreground IoU of both against the ground truth.

Run: ``.venv/bin/python benchmarks/bench_pixel_classifier.py [--size 1024] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trees", type=int, default=100)
    args = parser.parse_args()

    from skimage.feature import multiscale_basic_features
    from sklearn.ensemble import RandomForestClassifier

    from biakit.data import synthetic_nuclei, synthetic_scribbles
    from biakit.features import skimage_equivalent_spec
    from biakit.metrics import confusion_metrics
    from biakit.pixel import PixelClassifier

    n_objects = int(120 * (args.size / 512) ** 2)
    train = synthetic_nuclei((args.size, args.size), n_objects=n_objects, touching=0.3, seed=1)
    test = synthetic_nuclei((args.size, args.size), n_objects=n_objects, touching=0.3, seed=2)
    scribbles = synthetic_scribbles(train.mask, fraction=0.01, seed=0)
    print(
        f"image {args.size}x{args.size}, {100 * (scribbles > 0).mean():.2f}% painted, "
        f"{args.trees} trees, repeats={args.repeats}"
    )

    # scikit-image: features of the whole image, forest on the painted pixels.
    def sk_fit():
        feats = multiscale_basic_features(train.image)
        rf = RandomForestClassifier(n_estimators=args.trees, random_state=0, n_jobs=None)
        painted = scribbles > 0
        rf.fit(feats[painted], scribbles[painted])
        return rf

    def sk_predict(rf):
        feats = multiscale_basic_features(test.image)
        flat = feats.reshape(-1, feats.shape[-1])
        return rf.classes_[np.argmax(rf.predict_proba(flat), axis=1)].reshape(test.image.shape)

    spec = skimage_equivalent_spec(2)

    def bk_fit():
        clf = PixelClassifier(spec, n_estimators=args.trees, seed=0)
        return clf.fit(train.image, scribbles)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bk_fit().predict(test.image[:64, :64])  # warm numba's cache outside the timing
        t_sk_fit, rf = _median_time(sk_fit, args.repeats)
        t_bk_fit, clf = _median_time(bk_fit, args.repeats)
        t_sk_pred, sk_labels = _median_time(lambda: sk_predict(rf), args.repeats)
        t_bk_pred, bk_labels = _median_time(lambda: clf.predict(test.image), args.repeats)

    iou_sk = confusion_metrics(test.mask, sk_labels == 2).iou
    iou_bk = confusion_metrics(test.mask, bk_labels == 2).iou
    print(f"{'step':<28}{'biakit (s)':>12}{'skimage+sklearn (s)':>22}{'speed-up':>10}")
    print(
        f"{'train (features + forest)':<28}{t_bk_fit:>12.3f}{t_sk_fit:>22.3f}"
        f"{t_sk_fit / t_bk_fit:>9.1f}x"
    )
    print(
        f"{'predict whole image':<28}{t_bk_pred:>12.3f}{t_sk_pred:>22.3f}"
        f"{t_sk_pred / t_bk_pred:>9.1f}x"
    )
    print(f"foreground IoU vs ground truth: biakit {iou_bk:.4f}, skimage+sklearn {iou_sk:.4f}")


if __name__ == "__main__":
    main()
