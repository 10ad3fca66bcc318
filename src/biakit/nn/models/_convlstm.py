"""ConvLSTM encoder-forecaster (Shi et al., NeurIPS 2015): a recurrent frame predictor, 2D / 3D.

Every frame is embedded by a ``patch``-strided convolution and passed through a
stack of ConvLSTM cells (the LSTM's matrix products replaced by convolutions);
the top cell's state is read out by a convolution and a pixel shuffle. The
``n_input`` given frames are read one by one, then the network feeds each
prediction back as the next input until ``n_output`` frames are made. With
``residual`` every read-out is added to the frame it was fed (the read-out starts
at zero: the untrained network is persistence).

>>> import torch
>>> net = ConvLSTM(ConvLSTMConfig(n_input=3, n_output=2, hidden=4, n_layers=1))
>>> net(torch.zeros(1, 3, 8, 10)).shape
torch.Size([1, 2, 8, 10])
"""

from __future__ import annotations

import torch
from torch import nn

from biakit.nn.models._sr import pixel_shuffle_nd
from biakit.nn.models._video_config import ConvLSTMConfig


class ConvLSTMCell(nn.Module):
    """One ConvLSTM cell: input, forget, output gates and candidate from one convolution."""

    def __init__(self, ndim: int, cin: int, hidden: int, kernel: int) -> None:
        super().__init__()
        conv = nn.Conv2d if ndim == 2 else nn.Conv3d
        self.hidden = hidden
        self.gates = conv(cin + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the new ``(h, c)`` (zeros before the first frame)."""
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden, *x.shape[2:])
            state = (zeros, zeros)
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class ConvLSTM(nn.Module):
    """ConvLSTM network: ``(B, n_input * C, *S)`` -> ``(B, n_output * C, *S)``.

    Parameters
    ----------
    config : ConvLSTMConfig
        Architecture; spatial sizes must be multiples of ``config.patch``.
    """

    def __init__(self, config: ConvLSTMConfig) -> None:
        super().__init__()
        self.config = cfg = config
        conv = nn.Conv2d if cfg.ndim == 2 else nn.Conv3d
        p = cfg.patch
        self.embed = conv(cfg.in_channels, cfg.hidden, p, stride=p)
        self.cells = nn.ModuleList(
            ConvLSTMCell(cfg.ndim, cfg.hidden, cfg.hidden, cfg.kernel) for _ in range(cfg.n_layers)
        )
        self.head = conv(cfg.hidden, cfg.out_channels * p**cfg.ndim, 1)
        if cfg.residual:  # start exactly at persistence (copy-last-frame)
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict the next ``n_output`` frames of ``x``."""
        cfg = self.config
        b, _, *spatial = x.shape
        c, t = cfg.in_channels, cfg.n_input
        frames = x.reshape(b, t, c, *spatial)
        states: list = [None] * len(self.cells)
        outputs: list[torch.Tensor] = []
        frame = frames[:, 0]
        for step in range(t + cfg.n_output - 1):
            if step < t:
                frame = frames[:, step]
            h = self.embed(frame)
            for j, cell in enumerate(self.cells):
                states[j] = cell(h, states[j])
                h = states[j][0]
            if step >= t - 1:
                out = pixel_shuffle_nd(self.head(h), (cfg.patch,) * cfg.ndim)
                frame = out + frame if cfg.residual else out
                outputs.append(frame)
        return torch.cat(outputs, dim=1)
