"""Greedy generation in a plain loop: one prefill, then one decode step per token, timed on an injected clock.

The loop never waits for the device except twice: once the first token is out (time to first
token) and at the end. Steps see static shapes only: every decode step gets tokens (batch, 1) and
positions (batch, 1) of the same strides, taken from tables made before the clock starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

from ..metrics import TokenIds

Step = Callable[[Any, Any], Any]
"""(tokens (batch, query), positions (batch, query)) -> next tokens (batch, 1)."""
Clock = Callable[[], float]


@dataclass(frozen=True)
class TimedRun:
    """One generation: its tokens (batch, output_len) and when the first and the last token were out."""

    tokens: Any
    ttft_s: float
    latency_s: float

    @property
    def output_len(self) -> int:
        return int(self.tokens.shape[1])

    @property
    def tpot_s(self) -> Optional[float]:
        """Time per output token after the first, or None with a single output token."""
        decoded = self.output_len - 1
        return (self.latency_s - self.ttft_s) / decoded if decoded > 0 else None

    @property
    def output_tokens(self) -> int:
        return int(self.tokens.numel())

    def ttfts(self) -> Tuple[float, ...]:
        """One for the batch: every request of a static batch has the same."""
        return (self.ttft_s,)

    def tpots(self) -> Tuple[float, ...]:
        tpot = self.tpot_s
        return () if tpot is None else (tpot,)

    def token_ids(self) -> TokenIds:
        return tuple(tuple(row) for row in self.tokens.tolist())


def position_tables(batch: int, prompt_len: int, output_len: int, device: Any) -> tuple[Any, Any]:
    """The prefill's positions (batch, prompt_len) and, per decode step i, positions[i] of shape (batch, 1).

    Decode step i feeds the token generated at step i, which sits at position prompt_len + i.
    """
    import torch

    prefill = torch.arange(prompt_len, device=device).repeat(batch, 1)
    decode = torch.arange(prompt_len, prompt_len + max(output_len - 1, 0), device=device)
    return prefill, decode.repeat(batch, 1).t().contiguous().unsqueeze(-1)


def generate_greedy(
    prefill: Step, decode: Step, prompt: Any, output_len: int, clock: Clock, synchronize: Callable[[], None]
) -> TimedRun:
    """Generate exactly `output_len` tokens after `prompt` (batch, prompt_len): no end-of-sequence stop."""
    import torch

    if output_len < 1:
        raise ValueError(f"output_len must be at least 1, got {output_len}")
    batch, prompt_len = prompt.shape
    prefill_positions, decode_positions = position_tables(batch, prompt_len, output_len, prompt.device)
    tokens = torch.empty((batch, output_len), dtype=torch.long, device=prompt.device)
    synchronize()
    start = clock()
    token = prefill(prompt, prefill_positions)
    tokens[:, :1].copy_(token)
    synchronize()
    first = clock()
    for step in range(output_len - 1):
        token = decode(token, decode_positions[step])
        tokens[:, step + 1 : step + 2].copy_(token)
    synchronize()
    return TimedRun(tokens=tokens, ttft_s=first - start, latency_s=clock() - start)
