"""Tiny untrained workflows of every exportable task (networks built, not trained)."""

import numpy as np
import pytest

pytest.importorskip("bioimageio.core")
torch = pytest.importorskip("torch")

TINY_UNET = {"depth": 1, "base_filters": 2}


def _with_network(workflow, in_channels=1):
    from biakit.nn.models import build_network

    torch.manual_seed(0)
    workflow.network_config = workflow.config.network_config(in_channels)
    workflow.model = build_network(workflow.architecture, workflow.network_config).eval()
    workflow.training = {"epochs": 0, "n_images": 0, "summary": {"val_loss": 0.5}}
    return workflow


def make_workflow(task):
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

    if task == "semantic":
        wf = SemanticSegmenter(SemanticConfig(n_classes=3, patch_shape=(16, 16), model=TINY_UNET))
    elif task == "instance":
        wf = InstanceSegmenter(InstanceConfig(patch_shape=(16, 16), model=TINY_UNET))
    elif task == "detection":
        wf = Detector(DetectionConfig(patch_shape=(16, 16), model=TINY_UNET))
        wf = _with_network(wf)
        wf.thresholds = {"threshold": 0.5, "min_distance": 2.0}
        return wf
    elif task == "denoise":
        cfg = DenoiseConfig(patch_shape=(16, 16), model=TINY_UNET, norm_scope="dataset")
        wf = _with_network(Denoiser(cfg))
        stats = {"offset": [100.0], "scale": [50.0]}
        wf.training["normalization"] = {"input": stats, "target": stats}
        return wf
    elif task == "denoise_per_image":
        wf = Denoiser(DenoiseConfig(patch_shape=(16, 16), model=TINY_UNET))
    elif task == "super_resolution":
        model = {"architecture": "edsr_lite", "n_features": 4, "n_blocks": 1, "scale": 2}
        wf = SuperResolver(SuperResolutionConfig(patch_shape=(16, 16), model=model))
    elif task == "isotropic":
        model = {"architecture": "edsr_lite", "n_features": 4, "n_blocks": 1}
        wf = IsotropicRestorer(IsotropicConfig(factor=2, patch_shape=(16, 16), model=model))
    else:
        raise ValueError(task)
    return _with_network(wf)


def smooth_image(shape, seed=0):
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    return (ndi.gaussian_filter(rng.random(shape), 2.0) * 1000).astype(np.float32)


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """task -> path of its exported package (made once per session)."""
    cache = {}

    def get(task):
        if task not in cache:
            path = tmp_path_factory.mktemp("pkg") / f"{task}.zip"
            wf = make_workflow(task)
            cache[task] = (wf, wf.export_bioimageio(path, sample=smooth_image((40, 40))))
        return cache[task]

    return get
