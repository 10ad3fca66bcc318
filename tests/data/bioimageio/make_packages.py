"""Remake the weights and test tensors of the hand-written test packages (run from anywhere).

``plain_unet/``: ``rdf.yaml``, ``plain_unet.py`` and ``README.md`` are written by hand;
this script writes ``weights.pt`` (random, seed 0), ``test_input.npy`` (a smooth random
image, seed 0) and ``test_output.npy`` (bioimageio.core's prediction of it, as
``bioimageio.core.test_model`` computes it: no halo padding).
"""

import sys
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage as ndi

HERE = Path(__file__).parent


def plain_unet() -> None:
    from bioimageio.core import Sample, Tensor, create_prediction_pipeline
    from bioimageio.spec import load_model_description

    folder = HERE / "plain_unet"
    sys.path.insert(0, str(folder))
    from plain_unet import PlainUNet

    torch.manual_seed(0)
    torch.save(PlainUNet(1, 1, 4).state_dict(), folder / "weights.pt")
    rng = np.random.default_rng(0)
    image = ndi.gaussian_filter(rng.random((64, 64)), 2.0) * 1000 + 100
    test_in = image.astype(np.float32)[None, None]
    np.save(folder / "test_input.npy", test_in)
    np.save(folder / "test_output.npy", np.ones_like(test_in))  # placeholder to load the RDF
    descr = load_model_description(folder / "rdf.yaml", perform_io_checks=False)
    pipeline = create_prediction_pipeline(descr, weight_format="pytorch_state_dict")
    sample = Sample(members={"raw": Tensor(test_in, dims=("batch", "channel", "y", "x"))},
                    stat={}, id="test")  # fmt: skip
    out = pipeline.predict_sample_without_blocking(
        sample, skip_input_padding=True, skip_output_cropping=True
    )
    np.save(folder / "test_output.npy", np.asarray(out.members["foreground"].data, np.float32))


if __name__ == "__main__":
    plain_unet()
