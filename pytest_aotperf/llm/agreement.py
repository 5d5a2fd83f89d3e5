"""Do two backends' greedy tokens agree? Identical, or identical up to a float tie (two near-equal top logits).

Greedy decoding amplifies rounding: where the two best logits are within rounding of each other, a
backend that adds in another order may pick the other token, and the sequences part from there on.
That is a tie, not a bug. The check finds the first step where the tokens differ and runs the reference
model there twice: in its own dtype, and cast to a wider one (the same weights, exactly). How far the
narrow pass moved the best candidates' logits is its rounding at that point, measured rather than
assumed: with random weights in bfloat16 it is 0.06-0.43 on tiny-llama's logits and 1-3.5 on the 1B
model's (benchmarks/logit_rounding.py). The two tokens are a tie when their exact gap is within twice that: each of two
backends' logits may be off by as much, in opposite directions.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Optional, Sequence

WIDER = {"bfloat16": "float32", "float16": "float32", "float32": "float64"}
"""The dtype each model dtype is checked against: one that holds its weights exactly, with more precision."""
CANDIDATES = 10
"""How many of the best tokens (by the exact logits) the rounding is measured on."""

Tokens = Sequence[Sequence[int]]


@dataclass(frozen=True)
class Agreement:
    """Where two token sequences first differ (row, step), or None; there, the two tokens' logit gap in the
    model's dtype and in the wider one, and the most the model's dtype moved any of the best logits."""

    first_difference: Optional[tuple[int, int]]
    logit_gap: Optional[float] = None
    exact_gap: Optional[float] = None
    rounding: Optional[float] = None
    dtype: str = ""

    @property
    def identical(self) -> bool:
        return self.first_difference is None

    @property
    def tie(self) -> bool:
        """Identical, or the two tokens' exact logits are closer than two passes' rounding can move them."""
        if self.identical:
            return True
        return self.exact_gap is not None and self.rounding is not None and self.exact_gap <= 2 * self.rounding

    def describe(self) -> str:
        if self.first_difference is None:
            return "identical"
        row, step = self.first_difference
        verdict = "a tie" if self.tie else "NOT a tie"
        return (
            f"identical up to step {step} of request {row}, where the logit gap was {self.logit_gap:.3g} "
            f"({WIDER[self.dtype]}: {self.exact_gap:.3g}; {self.dtype} rounding moved the best logits by up to "
            f"{self.rounding:.3g}): {verdict}"
        )


def first_difference(a: Tokens, b: Tokens) -> Optional[tuple[int, int]]:
    """The earliest step at which any request's tokens differ, as (request, step), or None."""
    if len(a) != len(b) or any(len(x) != len(y) for x, y in zip(a, b)):
        raise ValueError("token sequences of different shapes cannot be compared")
    found = [(step, row) for row, (x, y) in enumerate(zip(a, b)) for step, (s, t) in enumerate(zip(x, y)) if s != t]
    return (min(found)[1], min(found)[0]) if found else None


def dtype_name(model: Any) -> str:
    """The dtype of `model`'s weights by name: "bfloat16", "float32", ..."""
    return str(next(model.parameters()).dtype).removeprefix("torch.")


def widened(model: Any) -> Any:
    """A copy of `model` in its dtype's WIDER dtype (a cast: the same weights, exactly)."""
    import torch

    return copy.deepcopy(model).to(getattr(torch, WIDER[dtype_name(model)]))


def agreement(model: Any, prompt: Tokens, reference: Tokens, other: Tokens, wide_model: Any = None) -> Agreement:
    """Compare `other` with `reference` (greedy tokens of `model` after `prompt`); at the first difference,
    one forward pass of `model` and of `wide_model` (its widened copy, made here if not given) over the
    prompt and the shared tokens."""
    import torch

    where = first_difference(reference, other)
    if where is None:
        return Agreement(None)
    row, step = where
    ids = list(prompt[row]) + list(reference[row][:step])
    device = next(model.parameters()).device
    wide_model = widened(model) if wide_model is None else wide_model
    with torch.no_grad():
        narrow = model(torch.tensor([ids], device=device)).logits[0, -1].double()
        exact = wide_model(torch.tensor([ids], device=device)).logits[0, -1].double()
    chosen, alternative = reference[row][step], other[row][step]
    best = exact.topk(CANDIDATES).indices
    return Agreement(
        where,
        logit_gap=abs(float(narrow[chosen] - narrow[alternative])),
        exact_gap=abs(float(exact[chosen] - exact[alternative])),
        rounding=float((narrow[best] - exact[best]).abs().max()),
        dtype=dtype_name(model),
    )
