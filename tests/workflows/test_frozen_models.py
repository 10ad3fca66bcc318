"""Model folders written by earlier releases keep loading and predicting the same.

``tests/data/models/<task>_<release>/`` are frozen model folders (see
``make_models.py`` there). Never regenerate them: a failure here means a change
broke users' saved models; add an upgrade in ``biakit.workflows._folder`` instead.
"""

from pathlib import Path

import numpy as np
import pytest

from biakit.workflows import FORMAT_VERSION, load_model, read_manifest

pytest.importorskip("torch")

FROZEN = sorted((Path(__file__).parents[1] / "data" / "models").glob("*_v*"))


def test_frozen_folders_are_present():
    restoration = ("denoise", "super_resolution", "isotropic")
    assert {p.name for p in FROZEN} >= {f"{t}_v1" for t in restoration}
    assert {p.name for p in FROZEN} >= {f"{t}_{v}" for t in ("semantic", "instance", "detection")
                                       for v in ("v0", "v1")}  # fmt: skip


@pytest.mark.parametrize("folder", FROZEN, ids=[p.name for p in FROZEN])
def test_frozen_model_loads_and_predicts_as_when_saved(folder):
    manifest = read_manifest(folder)
    assert manifest["format_version"] <= FORMAT_VERSION
    assert manifest["task"] == folder.name.rsplit("_", 1)[0]
    workflow = load_model(folder)
    expected = np.load(folder / "expected.npz")
    maps = workflow.predict_maps(expected["image"], amp="none")
    np.testing.assert_allclose(maps, expected["maps"], atol=1e-5)
    result = workflow.postprocess(maps)
    result = result[0] if workflow.task == "detection" else result
    np.testing.assert_allclose(result, expected["result"], atol=1e-6)


def test_frozen_denoiser_keeps_the_behaviour_it_was_saved_with():
    """Options added later (TTA, per-image statistics, the blind-spot blend, the Huber N2V
    loss) are off in a model saved before them, so it predicts and trains on as then."""
    workflow = load_model(Path(__file__).parents[1] / "data" / "models" / "denoise_v1")
    cfg = workflow.config
    assert (cfg.tta, cfg.norm_scope, cfg.blend_input, cfg.huber_delta) == (
        False, "dataset", False, None)  # fmt: skip
    assert not cfg.resolved_blend_input and not cfg.resolved_tta
