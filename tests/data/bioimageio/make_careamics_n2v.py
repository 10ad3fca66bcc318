"""Make ``careamics_n2v.zip``: a tiny CAREamics 0.3.5 Noise2Void export (an external package).

Runs in CAREamics' own venv (see ``benchmarks/_careamics_venv.py``), offline, on CPU::

    benchmarks/_work/venv-careamics/bin/python tests/data/bioimageio/make_careamics_n2v.py

One epoch on a 128 x 128 smooth noisy image with a depth-1 U-Net of 8 channels, so
the package stays small; its quality does not matter (the tests compare biakit's
prediction of the package with bioimageio.core's).
"""

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "benchmarks"))


def main() -> None:
    from _careamics_venv import register_torchvision_stand_ins

    register_torchvision_stand_ins()
    from careamics import CAREamist
    from careamics.config import create_n2v_config
    from scipy import ndimage as ndi

    rng = np.random.default_rng(0)
    clean = ndi.gaussian_filter(rng.random((128, 128)), 3.0) * 1000
    noisy = (clean + rng.normal(0, 20, clean.shape)).astype(np.float32)
    config = create_n2v_config(
        "tiny_n2v", data_type="array", axes="YX", patch_size=[32, 32], batch_size=4,
        num_epochs=1, n_val_patches=2,
    )  # fmt: skip
    config.algorithm_config.model.depth = 1  # small: the package is test data
    config.algorithm_config.model.num_channels_init = 8
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="careamics-"))  # checkpoints: not test data
    cm = CAREamist(config, work_dir=work, enable_progress_bar=False)
    cm.train(train_data=noisy)
    cm.export_to_bmz(
        path_to_archive=HERE / "careamics_n2v.zip", friendly_model_name="tiny careamics n2v",
        input_array=noisy[:32, :32], authors=[{"name": "biakit tests"}],
        general_description="A one-epoch CAREamics N2V model for testing biakit's import.",
        data_description="a 128 x 128 smooth random image with Gaussian noise",
    )  # fmt: skip


if __name__ == "__main__":
    main()
