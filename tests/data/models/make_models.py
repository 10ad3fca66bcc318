"""Write the frozen model folders of this release (run once per model-format release).

    python tests/data/models/make_models.py v1

Each ``<task>_<release>/`` folder is a tiny trained model as biakit wrote it,
with ``expected.npz``: an input image and the maps / result the model gave.
``tests/workflows/test_frozen_models.py`` loads every such folder forever, so
a change that breaks reading an older model folder fails the tests. Never
regenerate an existing release's folders: add a new release instead.

The ``*_v0`` folders were written by biakit 0.1 (commit 55ddf30, before the
workflow contract: one ``config.json`` holding the format, the U-Net config and
the tuned values) with the same tiny settings; they check the upgrade path.
"""

import sys
from pathlib import Path

import numpy as np
import torch

from biakit.data import noisy_clean_pair, synthetic_nuclei, synthetic_spots
from biakit.workflows import (
    DenoiseConfig,
    Denoiser,
    DetectionConfig,
    Detector,
    InstanceConfig,
    InstanceSegmenter,
    IsotropicConfig,
    IsotropicRestorer,
    SemanticConfig,
    SemanticSegmenter,
    SuperResolutionConfig,
    SuperResolver,
)

TINY = {
    "patch_shape": (16, 16),
    "samples_per_epoch": 4,
    "model": {"depth": 1, "base_filters": 2},
    "train": {"epochs": 1, "batch_size": 2, "device": "cpu", "plot_every": 0, "amp": "none"},
}


def main(release: str) -> None:
    torch.set_num_threads(1)
    here = Path(__file__).parent
    nuclei = [synthetic_nuclei((32, 32), n_objects=2, seed=s) for s in range(2)]
    spots = [synthetic_spots((32, 32), n_spots=3, seed=s) for s in range(2)]
    noisy = [noisy_clean_pair((32, 32), noise="gaussian", level=0.2, seed=s)[0] for s in range(2)]
    small = {"patch_shape": (16, 16), "samples_per_epoch": 4, "train": TINY["train"]}
    sr_model = {"n_features": 2, "n_blocks": 1}
    jobs = {  # task: (workflow, training images, targets or None)
        "semantic": (SemanticSegmenter(SemanticConfig(**TINY)), [d.image for d in nuclei],
                     [d.mask for d in nuclei]),
        "instance": (InstanceSegmenter(InstanceConfig(**TINY)), [d.image for d in nuclei],
                     [d.labels for d in nuclei]),
        "detection": (Detector(DetectionConfig(**TINY)), [d.image for d in spots],
                      [d.points for d in spots]),
        "denoise": (Denoiser(DenoiseConfig(**small, mask_fraction=0.02,
                                           model={"depth": 1, "base_filters": 2})), noisy, None),
        "super_resolution": (SuperResolver(SuperResolutionConfig(**small, model=sr_model)),
                             noisy, None),
        "isotropic": (IsotropicRestorer(IsotropicConfig(**{**small, "patch_shape": (8, 16)},
                                                        factor=2, model=sr_model)),
                      [np.stack(noisy)], None),
    }  # fmt: skip
    for task, (workflow, images, targets) in jobs.items():
        folder = here / f"{task}_{release}"
        if folder.exists():  # frozen: never regenerate a release's folder
            continue
        workflow.train(images, *(() if targets is None else (targets,)))
        workflow.save(folder)
        maps = workflow.predict_maps(images[0])
        result = workflow.postprocess(maps)
        result = result[0] if task == "detection" else result
        np.savez_compressed(folder / "expected.npz", image=images[0], maps=maps, result=result)
        print(f"wrote {folder}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "v1")
