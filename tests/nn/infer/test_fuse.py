"""Prediction's network: batch norm folded into convolutions, kept per network, channels-last."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from biakit.nn.infer import predict_tiled  # noqa: E402
from biakit.nn.infer._fuse import fold_batch_norm, inference_network  # noqa: E402
from biakit.nn.models import UNet, UNetConfig  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _trained_statistics(net, ndim, seed=0):
    """Give every batch norm non-trivial running statistics and affine parameters."""
    g = torch.Generator().manual_seed(seed)
    net.train()
    with torch.no_grad():
        for _ in range(3):  # running means / variances away from 0 / 1
            net(3.0 + 2.0 * torch.randn(2, 1, *(16,) * ndim, generator=g))
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.5, 2.0, generator=g)
                m.bias.uniform_(-1.0, 1.0, generator=g)
    return net.eval()


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("residual", [False, True])
def test_folded_network_equals_the_network(ndim, residual):
    cfg = UNetConfig(ndim=ndim, depth=2, base_filters=4, residual=residual)
    net = _trained_statistics(UNet(cfg), ndim)
    folded = fold_batch_norm(net)
    x = 3.0 + 2.0 * torch.randn(2, 1, *(16,) * ndim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        np.testing.assert_allclose(folded(x).numpy(), net(x).numpy(), rtol=1e-4, atol=1e-4)
    kinds = {type(m).__name__ for m in folded.modules()}
    assert not any(k.startswith("BatchNorm") for k in kinds)
    assert any(k.startswith("BatchNorm") for k in {type(m).__name__ for m in net.modules()})


def test_other_norms_are_left_alone():
    for norm in ("group", "instance", "none"):
        net = UNet(UNetConfig(ndim=2, depth=1, base_filters=4, norm=norm))
        assert inference_network(net, torch.device("cpu")) is net


def test_the_folded_copy_is_kept_and_made_again_when_the_weights_change():
    net = _trained_statistics(UNet(UNetConfig(ndim=2, depth=1, base_filters=4)), 2)
    cpu = torch.device("cpu")
    first = inference_network(net, cpu)
    assert first is not net and inference_network(net, cpu) is first
    image = np.random.default_rng(0).normal(3, 2, (1, 32, 32)).astype(np.float32)
    before = predict_tiled(net, image, device="cpu")
    with torch.no_grad():  # as an optimiser step would
        next(net.parameters()).mul_(1.5)
    again = inference_network(net, cpu)
    assert again is not first
    after = predict_tiled(net, image, device="cpu")
    with torch.no_grad():
        expected = net.eval()(torch.from_numpy(image)[None])[0].numpy()
    np.testing.assert_allclose(after, expected, rtol=1e-4, atol=1e-4)
    assert not np.allclose(before, after)


def test_prediction_leaves_the_network_as_it_was():
    net = _trained_statistics(UNet(UNetConfig(ndim=2, depth=1, base_filters=4)), 2).train()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    image = np.random.default_rng(1).normal(0, 1, (1, 24, 24)).astype(np.float32)
    out = predict_tiled(net, image, device="cpu")
    assert net.training  # mode restored; weights, statistics untouched
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, state[k])
    net.eval()
    with torch.no_grad():
        plain = net(torch.from_numpy(image)[None])[0].numpy()
    np.testing.assert_allclose(out, plain, rtol=1e-4, atol=1e-4)
