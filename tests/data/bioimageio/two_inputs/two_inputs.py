"""A plain PyTorch network with two inputs and two outputs, written without biakit."""

import torch
from torch import nn


class TwoInputNet(nn.Module):
    """(raw, aux) -> (two-class maps, a gate map without channel axis)."""

    def __init__(self, features=4):
        super().__init__()
        self.a = nn.Conv2d(1, features, 3, padding=1)
        self.b = nn.Conv2d(1, features, 3, padding=1)
        self.head = nn.Conv2d(features, 2, 3, padding=1)
        self.gate = nn.Conv2d(features, 1, 3, padding=1)

    def forward(self, raw, aux):
        h = torch.relu(self.a(raw) + self.b(aux))
        return self.head(h), self.gate(h)[:, 0]
