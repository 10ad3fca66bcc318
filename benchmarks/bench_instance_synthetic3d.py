"""Synthetic anisotropic 3D nuclei: instance U-Net vs classical pipeline, with a pass/fail check.

Issue goal: F1 >= 0.90 at IoU 0.5 on held-out synthetic 3D nuclei (z spacing 2x xy,
touching objects). The script trains within a time budget on CPU (GPU when present),
prints F1 / accuracy at IoU 0.5 and 0.75 for both methods and exits 1 if the goal is
missed.

Run: ``.venv/bin/python benchmarks/bench_instance_synthetic3d.py [--minutes 6]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6.0)
    args = parser.parse_args()

    from biakit.data import synthetic_nuclei
    from biakit.metrics import match_instances_dataset
    from biakit.pipeline import Pipeline
    from biakit.workflows import InstanceConfig, InstanceSegmenter

    spacing = (2.0, 1.0, 1.0)

    def sample(seed: int):
        s = synthetic_nuclei((32, 96, 96), n_objects=24, touching=0.5, spacing=spacing, seed=seed)
        return s.image, s.labels

    train = [sample(s) for s in range(6)]
    val = [sample(100 + s) for s in range(2)]
    test = [sample(200 + s) for s in range(3)]
    config = InstanceConfig(
        patch_shape=(32, 64, 64),
        samples_per_epoch=32,
        spacing=spacing,
        model={"depth": 3, "base_filters": 16, "z_pool": (False, True, True)},
        augment={"flip": True, "rotate90": True, "brightness": 0.1, "contrast": 0.1},
        train={"epochs": 500, "batch_size": 2, "lr": 2e-3, "max_time": 60 * args.minutes},
    )
    seg = InstanceSegmenter(config)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg.train(
            [x for x, _ in train], [y for _, y in train],
            val_images=[x for x, _ in val], val_labels=[y for _, y in val], output_dir=None,
        )  # fmt: skip
    print(f"trained {len(seg.history)} epochs in {time.perf_counter() - start:.0f} s")
    truths = [y for _, y in test]
    results = {
        "deep 3D U-Net": [seg.predict(x) for x, _ in test],
        "classical pipeline": [Pipeline.default().run(x, spacing=spacing).labels for x, _ in test],
    }
    print(f"{'method':<22}{'F1@0.5':>8}{'acc@0.5':>9}{'F1@0.75':>9}{'acc@0.75':>10}")
    scores = {}
    for name, preds in results.items():
        m50, m75 = match_instances_dataset(truths, preds, thresh=[0.5, 0.75])
        scores[name] = m50.f1
        print(f"{name:<22}{m50.f1:>8.3f}{m50.accuracy:>9.3f}{m75.f1:>9.3f}{m75.accuracy:>10.3f}")
    ok = scores["deep 3D U-Net"] >= 0.90
    print(f"goal F1@0.5 >= 0.90 for the deep model: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
