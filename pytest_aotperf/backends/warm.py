"""The small model a backend warms the process up with: the common layers of vision, MLP and transformer models."""

from __future__ import annotations

from typing import Any, Tuple


def warm_up_model(device: str) -> Tuple[Any, Tuple[Any, ...]]:
    """Convolution, normalisation, activation and pooling on an image; embedding and a transformer
    encoder layer on token ids; linear layers on both. Returns the module and its inputs (batch 2).

    A module class of its own: torch.compile keys its cache on the forward's code, so compiling this
    one adds no recompilation to the models under test (nn.Sequential's forward, say).
    """
    import torch
    from torch import nn

    class WarmUp(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.norm, self.pool = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.MaxPool2d(2)
            self.embed = nn.Embedding(16, 8)
            self.encoder = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True, dropout=0.0)
            self.hidden, self.layer_norm, self.out = nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2)

        def forward(self, image: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
            features = self.pool(torch.relu(self.norm(self.conv(image)))).mean(dim=(2, 3))
            encoded = self.encoder(self.embed(tokens)).mean(dim=1)
            logits: torch.Tensor = self.out(self.layer_norm(nn.functional.gelu(self.hidden(features)) + encoded))
            return logits

    inputs = (torch.randn(2, 3, 8, 8, device=device), torch.randint(0, 16, (2, 4), device=device))
    return WarmUp().to(device).eval(), inputs
