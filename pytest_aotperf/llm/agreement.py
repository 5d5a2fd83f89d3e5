"""Do two backends' greedy tokens agree? Identical, or identical up to a float tie (two near-equal top logits).

Greedy decoding amplifies rounding: where the two best logits are within rounding of each other, a
backend that adds in another order may pick the other token, and the sequences part from there on.
That is a tie, not a bug: the check finds the first step where the tokens differ and measures, on
the reference model, how far apart the two tokens' logits were there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

TIE_TOLERANCE = {"float32": 1e-3, "bfloat16": 0.25, "float16": 0.05}
"""Logit gaps (absolute) within rounding of a forward pass in each dtype; logits of the seeded models
spread over several units (std about 3 on tiny-llama)."""

Tokens = Sequence[Sequence[int]]


@dataclass(frozen=True)
class Agreement:
    """Where two token sequences first differ (row, step), or None, and the logit gap there."""

    first_difference: Optional[tuple[int, int]]
    logit_gap: Optional[float] = None

    @property
    def identical(self) -> bool:
        return self.first_difference is None

    def within(self, tolerance: float) -> bool:
        """Identical, or identical up to a tie no wider than `tolerance`."""
        return self.identical or (self.logit_gap is not None and self.logit_gap <= tolerance)

    def describe(self) -> str:
        if self.first_difference is None:
            return "identical"
        row, step = self.first_difference
        return f"identical up to step {step} of request {row}, where the logit gap was {self.logit_gap:.3g}"


def first_difference(a: Tokens, b: Tokens) -> Optional[tuple[int, int]]:
    """The earliest step at which any request's tokens differ, as (request, step), or None."""
    if len(a) != len(b) or any(len(x) != len(y) for x, y in zip(a, b)):
        raise ValueError("token sequences of different shapes cannot be compared")
    found = [(step, row) for row, (x, y) in enumerate(zip(a, b)) for step, (s, t) in enumerate(zip(x, y)) if s != t]
    return (min(found)[1], min(found)[0]) if found else None


def agreement(model: Any, prompt: Tokens, reference: Tokens, other: Tokens) -> Agreement:
    """Compare `other` with `reference` (greedy tokens of `model` after `prompt`) and measure the gap
    at the first difference with one forward pass of `model` over the prompt and the shared tokens."""
    import torch

    where = first_difference(reference, other)
    if where is None:
        return Agreement(None)
    row, step = where
    ids = list(prompt[row]) + list(reference[row][:step])
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model(torch.tensor([ids], device=device)).logits[0, -1].float()
    gap = abs(float(logits[reference[row][step]] - logits[other[row][step]]))
    return Agreement(where, gap)
