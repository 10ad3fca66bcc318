"""The Denoiser's blind-spot blend (``blend_input``): defaults, equality, gain in PSNR.

Truth: :func:`biakit.nn.infer.blind_spot_weights` / ``blend_blind_spot`` (tested against
hand-computed optima in ``tests/nn/infer/test_blind_spot.py``) applied to the network's
own prediction, the clean image of a synthetic pair, and block-wise == in memory.
"""

import numpy as np
import pytest

from biakit.data import noisy_clean_pair
from biakit.errors import ConfigError
from biakit.workflows import DenoiseConfig, Denoiser, parse_workflow_config

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _n2v(image, epochs=1, algorithm="n2v", **extra):
    cfg = DenoiseConfig(
        algorithm=algorithm, patch_shape=(32, 32), samples_per_epoch=32, mask_fraction=0.05,
        val_fraction=0.0, model={"depth": 2, "base_filters": 8}, **extra,
        train={"epochs": epochs, "batch_size": 8, "lr": 0.004, "device": "cpu", "amp": "none",
               "plot_every": 0},
    )  # fmt: skip
    den = Denoiser(cfg)
    den.train([image])
    return den


def test_defaults_and_config_errors():
    on = {a: DenoiseConfig(algorithm=a).resolved_blend_input
          for a in ("n2v", "n2v2", "structn2v", "care", "n2n")}  # fmt: skip
    assert on == {"n2v": True, "n2v2": True, "structn2v": False, "care": False, "n2n": False}
    assert not DenoiseConfig(blend_input=False).resolved_blend_input
    for algo in ("care", "structn2v"):
        with pytest.raises(ConfigError, match="blend_input works with algorithm 'n2v' or"):
            parse_workflow_config({"task": "denoise", "algorithm": algo, "blend_input": True})


def test_predict_is_the_blend_of_the_network_prediction_and_beats_it():
    """Few steps: the prediction is far from the truth, so the pixel adds a lot (MMSE)."""
    from biakit.metrics import psnr
    from biakit.nn.infer import blend_blind_spot, blind_spot_weights, centre_gain

    noisy, clean = noisy_clean_pair((96, 96), noise="gaussian", level=0.3, seed=0)
    den = _n2v(noisy, epochs=2)
    mu = den.predict_maps(noisy, blend_input=False)
    probe = {"tta": False, "blend_input": False, "amp": "none"}
    gains = centre_gain(lambda x: den.predict_maps(x[0], **probe), noisy[None],
                        seed=den.config.seed)  # fmt: skip
    weights = blind_spot_weights(noisy[None], mu, gains)
    expected = blend_blind_spot(noisy[None], mu, weights)
    # (predict_maps normalises the probed image with its own statistics: not bit-equal)
    np.testing.assert_allclose(den.predict_maps(noisy), expected, atol=2e-3)
    assert 0.0 < weights.weights[0] < 1.0
    gain = psnr(clean, den.predict(noisy), data_range=1.0) - psnr(clean, mu[0], data_range=1.0)
    assert gain > 0.1, gain
    # the blend is linear in the image: a gain and offset of the input move the output alike
    moved = den.predict(3.0 * noisy + 100.0)
    np.testing.assert_allclose(moved, 3.0 * den.predict(noisy) + 100.0, atol=2e-3)


def test_centre_gain_of_the_network_is_the_mean_diagonal_of_its_jacobian():
    """Truth: the network's full Jacobian by autograd on a 32 x 32 image (no TTA). The
    probe's own noise comes from the off-diagonal entries: its sd is known from them."""
    from biakit.nn.datasets import normalize_with_stats
    from biakit.nn.infer import centre_gain

    noisy, _ = noisy_clean_pair((96, 96), noise="gaussian", level=0.3, seed=5)
    den = _n2v(noisy, epochs=10, tta=False)
    crop = noisy[None, 32:64, 32:64]
    stats = den.norm_stats(crop)
    z = torch.from_numpy(np.asarray(normalize_with_stats(crop, stats[0]), np.float32))[None]
    net = den.model.eval()
    jac = torch.autograd.functional.jacobian(lambda t: net(t), z).reshape(1024, 1024).double()
    diagonal = torch.diagonal(jac)
    exact = float(diagonal.mean())  # image units = normalised units (one scale)
    seeds = range(8)
    probes = [centre_gain(lambda x: den._restore(x, stats, False, amp="none"), crop, seed=s)[0]
              for s in seeds]  # fmt: skip
    off = float(((jac**2).sum(1) - diagonal**2).mean())
    sd = (off / 1024 / len(seeds)) ** 0.5  # ~0.002 here
    assert np.mean(probes) == pytest.approx(exact, abs=3 * sd + 0.002), (probes, exact, sd)
    assert exact > 0.02  # a network trained blind is not blind at prediction (0.033 here)


def test_large_image_blockwise_equals_in_memory(tmp_path):
    """Wider than the 2048-pixel weight region: both paths measure it on the same centre."""
    from biakit.distributed import predict_blockwise
    from biakit.io import read_image

    noisy, _ = noisy_clean_pair((40, 2100), noise="gaussian", level=0.3, seed=1)
    den = _n2v(noisy, tta=False)
    ref = den.predict_maps(noisy, tile_shape=(40, 2100), blending="none")
    predict_blockwise(den, noisy, tmp_path / "b.ome.zarr", client="threads", block_shape=(40, 512))
    maps, _ = read_image(tmp_path / "b.ome.zarr", lazy=False)
    np.testing.assert_allclose(maps[0] if maps.ndim == 3 else maps, ref[0], atol=1e-5)


def test_blockwise_blend_predicts_nothing_twice(tmp_path):
    """The weights come from the blocks' written output: the client predicts no region,
    only the centre-gain probe (float32, no TTA); the result equals in memory."""
    from biakit.distributed import predict_blockwise
    from biakit.io import read_image

    noisy, _ = noisy_clean_pair((48, 64), noise="gaussian", level=0.3, seed=4)
    den = _n2v(noisy)
    calls = []
    restore = den._restore
    den._restore = lambda x, stats, tta, **kw: calls.append(tta) or restore(x, stats, tta, **kw)
    # the four turns (the default) on square and oblong tiles alike
    predict_blockwise(den, noisy, tmp_path / "b.ome.zarr", client="threads", block_shape=(16, 32),
                      tta=4, amp="none")  # fmt: skip
    assert calls and not any(calls)  # probe passes only (tta False); no region prediction
    maps, _ = read_image(tmp_path / "b.ome.zarr", lazy=False)
    ref = den.predict_maps(noisy, tta=4, amp="none", tile_shape=(48, 64), blending="none")
    np.testing.assert_allclose(maps[0] if maps.ndim == 3 else maps, ref[0], atol=1e-5)


def test_blockwise_blend_resumes_and_refuses_another_blend_setting(tmp_path):
    """Interrupted in its blend pass, a resumed run finishes it from the kept network output
    and equals an uninterrupted run; resuming with the blend switched off is refused."""
    from biakit.cancel import Cancelled, cancellable
    from biakit.distributed import predict_blockwise
    from biakit.errors import ImageWriteError
    from biakit.io import read_image

    noisy, _ = noisy_clean_pair((48, 64), noise="gaussian", level=0.3, seed=5)
    den = _n2v(noisy)
    opts = {"client": "threads", "block_shape": (16, 32), "amp": "none", "tta": False}
    predict_blockwise(den, noisy, tmp_path / "whole.ome.zarr", **opts)
    dest = tmp_path / "cut.ome.zarr"
    marks = tmp_path / "cut.ome.zarr.partial" / ".biakit-blocks"

    class InBlendPass:  # set once two blocks of the blend pass are done
        def is_set(self):
            folder = marks / "blend"
            return folder.is_dir() and sum(p.name.isdigit() for p in folder.iterdir()) >= 2

    with cancellable(InBlendPass()), pytest.raises(Cancelled):
        predict_blockwise(den, noisy, dest, **opts)
    den.config.blend_input = False
    with pytest.raises(ImageWriteError, match="the interrupted run used blend=True"):
        predict_blockwise(den, noisy, dest, resume=True, **opts)
    den.config.blend_input = None
    predict_blockwise(den, noisy, dest, resume=True, **opts)
    whole, _ = read_image(tmp_path / "whole.ome.zarr", lazy=False)
    cut, _ = read_image(dest, lazy=False)
    np.testing.assert_array_equal(np.asarray(cut), np.asarray(whole))


def test_huber_loss_keeps_hot_pixels_from_dominating_training():
    """0.2% hot pixels at 20x the maximum: with the default Huber loss N2V restores the rest
    of the image far better than with plain squared error (same seed, steps, data)."""
    from biakit.metrics import psnr

    noisy, clean = noisy_clean_pair((96, 96), noise="gaussian", level=0.15, seed=2)
    hot = np.random.default_rng(3).choice(noisy.size, noisy.size // 500, replace=False)
    noisy.flat[hot] = 20 * noisy.max()
    ok = np.ones(noisy.size, bool)
    ok[hot] = False
    ok = ok.reshape(noisy.shape)
    scores = {}
    for delta in (3.0, None):
        den = _n2v(noisy, epochs=10, huber_delta=delta)
        out = den.predict(noisy, blend_input=False)
        scores[delta] = psnr(clean[ok], out[ok], data_range=1.0)
    assert DenoiseConfig().huber_delta == 3.0
    assert scores[3.0] > scores[None] + 1.0, scores  # 20.4 vs 17.5 dB here (noisy: 16.4)


def test_cli_blend_switch(tmp_path, capsys):
    """``biakit predict --no-blend`` gives the network alone; ``--blend`` on other algorithms
    is a usage error (exit 2); the saved model keeps its own setting."""
    from biakit.cli import main
    from biakit.io import ImageMeta, read_image, write_image
    from biakit.workflows import load_model

    noisy, _ = noisy_clean_pair((48, 48), noise="gaussian", level=0.3, seed=4)
    write_image(tmp_path / "in" / "a.tif", noisy, ImageMeta("YX"))
    den = _n2v(noisy, tta=False)
    den.save(tmp_path / "n2v")
    for flag, blend in (("--no-blend", False), ("--blend", True)):
        out = tmp_path / flag.strip("-")
        assert main(["predict", str(tmp_path / "n2v"), "-i", str(tmp_path / "in"),
                     "-o", str(out), flag]) == 0  # fmt: skip
        got, _ = read_image(out / "a_denoised.tif")
        np.testing.assert_allclose(got, den.predict(noisy, blend_input=blend), atol=1e-5)
    assert not np.allclose(read_image(tmp_path / "no-blend" / "a_denoised.tif")[0],
                           read_image(tmp_path / "blend" / "a_denoised.tif")[0])  # fmt: skip
    assert load_model(tmp_path / "n2v").config.blend_input is None  # the file is unchanged
    _n2v(noisy, algorithm="structn2v").save(tmp_path / "struct")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "struct"), "-i", str(tmp_path / "in"),
                 "-o", str(tmp_path / "s"), "--blend"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "--blend needs a blind-spot denoiser" in err and "'structn2v'" in err, err
    assert "Traceback" not in err and not (tmp_path / "s").exists()
