"""A plain PyTorch video network on (batch, channel, time, y, x), written without biakit."""

import torch
from torch import nn


class PlainVideoNet(nn.Module):
    """Two 3x3x3 convolutions over time and space: a frame-wise map with temporal context."""

    def __init__(self, channels=1, features=4):
        super().__init__()
        self.conv1 = nn.Conv3d(channels, features, 3, padding=1)
        self.conv2 = nn.Conv3d(features, channels, 3, padding=1)

    def forward(self, x):
        return self.conv2(torch.relu(self.conv1(x)))
