"""ONNX export and ONNX Runtime tiled prediction (skipped when onnx / onnxruntime are missing)."""

from dataclasses import dataclass

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx", reason="onnx is not installed (optional: pip install onnx)")
ort = pytest.importorskip(
    "onnxruntime", reason="onnxruntime is not installed (optional: pip install onnxruntime)"
)

from biakit.nn.infer import export_onnx, predict_tiled  # noqa: E402


@dataclass(frozen=True)
class Cfg:
    ndim: int = 2
    divisor: tuple = (2, 2)
    halo: tuple = (5, 5)
    out_channels: int = 2


class Net(torch.nn.Module):
    """conv - max-pool 2 - conv - nearest up-sampling - conv (receptive field 5, divisor 2)."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.a, self.b = torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Conv2d(4, 4, 3, padding=1)
        self.c = torch.nn.Conv2d(4, 2, 3, padding=1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        self.config = Cfg()

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.tanh(self.a(x)), 2)
        x = torch.nn.functional.interpolate(torch.tanh(self.b(x)), scale_factor=2.0)
        return self.c(x)


@pytest.mark.filterwarnings("ignore")  # exporter chatter (deprecations inside torch.onnx)
def test_onnx_session_matches_torch(tmp_path):
    net = Net()
    path = export_onnx(net, tmp_path / "net.onnx", (1, 1, 32, 32))
    assert path.exists() and net.training  # mode restored
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    image = np.random.default_rng(0).random((1, 45, 70), dtype=np.float32)
    ref = predict_tiled(net, image, tile_shape=32, batch_size=3, tta=True, activation="softmax")
    out = predict_tiled(
        net.config,
        image,
        tile_shape=32,
        batch_size=3,
        tta=True,
        activation="softmax",
        session=session,
    )
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_export_onnx_rejects_bad_shape(tmp_path):
    with pytest.raises(ValueError, match=r"example_shape must be \(B, C, \*spatial\)"):
        export_onnx(Net(), tmp_path / "x.onnx", (32, 32))
