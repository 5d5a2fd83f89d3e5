"""The models the evaluation pipeline compiled, small enough to run on a CPU."""

from __future__ import annotations

from typing import Callable, Tuple

import torch
from torch import nn

InputFn = Callable[[int], Tuple[torch.Tensor, ...]]


class EncoderStack(nn.Module):
    """A small transformer encoder over embedded token ids, mean-pooled into logits."""

    def __init__(self, vocab: int = 1000, dim: int = 128, heads: int = 4, layers: int = 2, classes: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, batch_first=True, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))


def mlp_classifier(features: int = 256, hidden: int = 512, classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Linear(features, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, classes)
    )


def small_cnn(classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, classes),
    )


def build_encoder(device: str, seq_len: int = 32) -> Tuple[nn.Module, InputFn]:
    module = EncoderStack().to(device).eval()
    return module, lambda batch: (torch.randint(0, 1000, (batch, seq_len), device=device),)


def build_mlp(device: str) -> Tuple[nn.Module, InputFn]:
    module = mlp_classifier().to(device).eval()
    return module, lambda batch: (torch.randn(batch, 256, device=device),)


def build_cnn(device: str) -> Tuple[nn.Module, InputFn]:
    module = small_cnn().to(device).eval()
    return module, lambda batch: (torch.randn(batch, 3, 32, 32, device=device),)


MODELS = {"encoder": build_encoder, "mlp": build_mlp, "cnn": build_cnn}
