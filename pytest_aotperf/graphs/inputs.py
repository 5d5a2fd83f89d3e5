"""Example inputs resized to another batch size (dimension 0), keeping their values valid."""

from __future__ import annotations

from typing import Any, Sequence, Tuple


def resize_batch(inputs: Sequence[Any], batch_size: int) -> Tuple[Any, ...]:
    """Each tensor input with `batch_size` rows, cycling through the example's rows.

    Rows are repeated rather than drawn at random so that integer inputs (token ids, labels)
    stay in range. Non-tensor inputs pass through unchanged.
    """
    import torch

    resized = []
    for value in inputs:
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            rows = value.shape[0]
            index = torch.arange(batch_size, device=value.device) % rows
            resized.append(value.index_select(0, index).contiguous())
        else:
            resized.append(value)
    return tuple(resized)


def batch_size_of(inputs: Sequence[Any]) -> int:
    """Dimension 0 of the first tensor input."""
    import torch

    for value in inputs:
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return value.shape[0]
    raise ValueError("no tensor input with a batch dimension among the example inputs")
