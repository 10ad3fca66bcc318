"""A plain PyTorch U-Net (one pooling level), written without biakit: an external model."""

import torch
from torch import nn


def _block(c_in, c_out):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.ReLU(),
    )


class PlainUNet(nn.Module):
    def __init__(self, in_channels=1, out_channels=1, features=4):
        super().__init__()
        self.enc = _block(in_channels, features)
        self.bottom = _block(features, 2 * features)
        self.up = nn.ConvTranspose2d(2 * features, features, 2, stride=2)
        self.dec = _block(2 * features, features)
        self.head = nn.Conv2d(features, out_channels, 1)

    def forward(self, x):
        skip = self.enc(x)
        y = self.bottom(nn.functional.max_pool2d(skip, 2))
        return self.head(self.dec(torch.cat([self.up(y), skip], dim=1)))
