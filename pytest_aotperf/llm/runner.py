"""What `aot_llm` returns on every backend: a `Runner`, whose `generate` times and records a generation the same way
on each; a backend's runner (llm/hf, llm/vllm) says how it builds and runs one batch."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Protocol, Sequence

from .metrics import (
    MAX_ITERATIONS,
    Generation,
    TokenIds,
    check_generate_arguments,
    iterate_until_tight,
    prompt_token_ids,
    record_generation,
)

if TYPE_CHECKING:
    from ..recorder import PerfRecorder


@dataclass(frozen=True)
class GenerationRequest:
    """What one `generate` call asks for: the batch's shape, the prompts' seed, greedy decoding or sampling."""

    batch_size: int
    prompt_len: int
    output_len: int
    seed: int
    greedy: bool

    @property
    def shape(self) -> Dict[str, int]:
        """The context of every generation metric."""
        return {"batch_size": self.batch_size, "prompt_len": self.prompt_len, "output_len": self.output_len}

    def prompt_ids(self, vocab_size: int) -> List[List[int]]:
        """The batch's prompts, the same on every backend (see `prompt_token_ids`)."""
        return prompt_token_ids(vocab_size, self.batch_size, self.prompt_len, self.seed)


class TimedBatch(Protocol):
    """One timed generation of the whole batch, as a backend's runner read it."""

    @property
    def latency_s(self) -> float: ...

    @property
    def output_tokens(self) -> int:
        """Tokens generated over the batch."""

    def ttfts(self) -> Sequence[float]:
        """Time to first token, per request where known."""

    def tpots(self) -> Sequence[float]:
        """Time per output token after the first, per request where known."""

    def token_ids(self) -> TokenIds:
        """The output tokens, per request."""


def generation_of(runs: Sequence[TimedBatch]) -> Generation:
    """The samples of timed batches: latency and tokens/s per batch, ttft and tpot per request where known."""
    return Generation(
        latency_s=tuple(run.latency_s for run in runs),
        ttft_s=tuple(ttft for run in runs for ttft in run.ttfts()),
        tpot_s=tuple(tpot for run in runs for tpot in run.tpots()),
        output_tokens_per_s=tuple(run.output_tokens / run.latency_s for run in runs),
        token_ids=runs[-1].token_ids(),
    )


def latency_and_tpot(runs: Sequence[TimedBatch]) -> List[List[float]]:
    """The series sampling keeps tight: latency per batch, tpot per request."""
    return [[run.latency_s for run in runs], [tpot for run in runs for tpot in run.tpots()]]


class Runner(ABC):
    """Generation on one backend's engine, timed and recorded on the test's recorder.

    `generate` is the same on every backend; each backend's runner builds what a request needs and
    returns one timed generation of its batch (`_prepare`).
    """

    greedy_by_default = True
    """How `generate` decodes when the test does not say."""
    no_request_stats = ""
    """Why a batch may come back without per-request times (ttft), if it can."""

    def __init__(self, recorder: PerfRecorder) -> None:
        self._recorder = recorder

    @property
    @abstractmethod
    def effective_config(self) -> Mapping[str, Any]:
        """What the test's baseline stores as its `llm` configuration."""

    def generate(
        self,
        batch_size: int,
        prompt_len: int = 32,
        output_len: int = 128,
        *,
        warmup: int = 3,
        iterations: int = 10,
        max_iterations: int = MAX_ITERATIONS,
        seed: int = 0,
        greedy: Optional[bool] = None,
    ) -> Generation:
        """Generate `output_len` tokens for `batch_size` prompts of `prompt_len` token ids (drawn as vLLM's latency
        benchmark draws them), `warmup` times, then `iterations` times timed (more, up to `max_iterations`, while
        latency or tpot is wider than the test's tolerance allows); records latency, ttft, tpot and
        output_tokens_per_s. `greedy` by default on eager, inductor and cudagraph (the only way they decode);
        on vllm sampling at temperature 1 by default, as its latency benchmark."""
        check_generate_arguments(batch_size, prompt_len, output_len, warmup, iterations)
        request = GenerationRequest(
            batch_size, prompt_len, output_len, seed, self.greedy_by_default if greedy is None else greedy
        )
        run = self._prepare(request)
        for _ in range(warmup):
            run()
        runs = iterate_until_tight(run, iterations, max_iterations, latency_and_tpot, self._recorder)
        generation = generation_of(runs)
        record_generation(self._recorder, generation, request.shape, self.no_request_stats)
        self._generated(request)
        return generation

    @abstractmethod
    def _prepare(self, request: GenerationRequest) -> Callable[[], TimedBatch]:
        """Check `request` against the engine and build what it needs (recording what building cost); one timed
        generation of its batch."""

    def _generated(self, request: GenerationRequest) -> None:
        """After `request`'s generation is recorded: what else the backend records about it."""
