"""Replaying captured CUDA graphs: routes by batch size, graph sets that lend their outputs.

Calls route on the batch size (dimension 0 of the inputs):

- a captured size copies the inputs into its static buffers and replays its graph;
- a smaller uncaptured size is padded up to the next captured size: only its rows are copied in
  (the padding rows keep earlier valid values) and the output rows are sliced back, which is
  right for modules whose output rows depend on their own input row only (inference models);
- a size above every captured one, or other non-batch dimensions than captured, runs the
  compiled module without a graph.

Padded and ungraphed calls are counted in the live statistics: totals as information (they
grow with the number of calls a measurement makes), and per call as exact counts.

Outputs: a call returns tensors the caller may keep, without a copy where none is needed. Each
batch size has a graph in each of LENDING_SETS + 1 graph sets. A set is one memory pool:
replaying any of its graphs may overwrite the outputs of all of them, and of no other set. A call
replays a lending set none of whose outputs the caller still holds (read from the output
storages' reference counts) and returns views of that graph's outputs; when the caller holds
outputs of every lending set, it replays the copying set and returns clones (counted as
`copied_outputs`). With `return_views=True` there is one set, and calls always return views of
its outputs, which the next call may overwrite.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, Callable, Dict, List, Sequence, Tuple

from ..compiled import CompiledModel, CompileStats, stat
from ..metrics import Metric

LENDING_SETS = 2
"""Graph sets whose outputs calls return as views. With two, a caller that still holds the last
result while it makes the next call (`out = model(x)` in a loop) never waits for a copy."""
LENT, COPIED, VIEWS = "lent", "copied", "views"
"""How a graph set returns outputs: views while the caller holds none; always clones; always views."""
OUTPUTS_LENT_OR_COPIED = "views while the caller holds none of a lending set's outputs, else copies (safe to keep)"
OUTPUTS_VIEWS = "views of static buffers (the next call may overwrite them)"


def graph_set_modes(return_views: bool) -> Tuple[str, ...]:
    """The graph sets a model keeps: one of views, or the lending sets and the copying set."""
    return (VIEWS,) if return_views else (LENT,) * LENDING_SETS + (COPIED,)


def batch_routes(captured: Sequence[int]) -> Dict[int, int]:
    """For every batch size up to the largest captured one, the captured size that serves it."""
    ordered = sorted(captured)
    return {size: next(c for c in ordered if c >= size) for size in range(1, ordered[-1] + 1)} if ordered else {}


def per_call(name: str, count: int, calls: int) -> Metric:
    """`count` over the calls made, as an exact count; unavailable before the first call."""
    if not calls:
        return Metric(name=name, unit="count", better="lower", kind="count", unavailable="the model was never called")
    return stat(name, count / calls, "count", kind="count")


def _constant(value: Any) -> Callable[[], Any]:
    """A callable returning `value`, implemented in C (no Python frame on the replay path)."""
    return itertools.repeat(value).__next__


class _Replay:
    """One graph set's way to serve a route: the graph, the input buffers to fill, how to return outputs."""

    __slots__ = ("launch", "inputs", "copy_in", "shapes", "output", "padded", "copies", "free", "lend", "calls")
    copy_in: Callable[[Any], Any]
    """Fills the first input buffer (the only one, mostly): bound once, as is `launch`."""
    free: Callable[[], bool]
    """Whether this set may replay now (outputs the caller holds would be overwritten)."""
    lend: Callable[[], None]
    """Notes that the call's outputs are lent out (they are views of this graph's static outputs)."""

    def __init__(
        self,
        graph: Any,
        inputs: Tuple[Any, ...],
        output: Callable[[], Any],
        padded: bool,
        copies: bool,
        free: Callable[[], bool],
        lend: Callable[[], None],
    ) -> None:
        self.launch = graph.replay
        self.inputs = inputs
        self.copy_in = inputs[0].copy_
        self.shapes = tuple(buffer.shape for buffer in inputs)
        self.output = output
        self.padded = padded
        self.copies = copies
        self.free = free
        self.lend = lend
        self.calls = 0


class CapturedGraph:
    """One batch size's graph with its static input and output buffers."""

    def __init__(self, batch_size: int, graph: Any, inputs: Tuple[Any, ...], output: Any) -> None:
        from torch.utils._pytree import tree_flatten

        self.batch_size = batch_size
        self.graph = graph
        self.inputs = inputs
        self.output = output
        self.leaves, self.spec = tree_flatten(output)

    def can_pad(self) -> bool:
        """Padding needs every output tensor to carry the batch in dimension 0, to slice it back."""
        import torch

        return all(
            leaf.dim() > 0 and leaf.shape[0] == self.batch_size
            for leaf in self.leaves
            if isinstance(leaf, torch.Tensor)
        )


class GraphSet:
    """One graph per batch size in one memory pool, returning outputs as `mode` says (LENT, COPIED, VIEWS).

    A LENT set lends only while free: while the caller holds no tensor over the outputs of the
    graph it lent last. Those are the only outputs of the set the caller can hold, since the set
    lends again only once they are released.
    """

    _owned: Dict[int, List[Tuple[int, int]]]
    """Per batch size: each output storage of its graph, with its reference count without the caller."""

    def __init__(self, mode: str) -> None:
        import torch

        self.mode = mode
        self.captured: Dict[int, CapturedGraph] = {}
        self._owned = {}
        self._lent: List[Tuple[int, int]] = []
        self._use_count: Callable[[int], int] = torch._C._storage_Use_Count

    def replay_for(self, size: int, rows: int) -> _Replay:
        """The route for calls of `rows` rows: this set's graph of `size` (padded up when rows < size)."""
        import torch
        from torch.utils._pytree import tree_unflatten

        captured = self.captured[size]
        padded = rows != size
        inputs = tuple(buffer[:rows] if padded else buffer for buffer in captured.inputs)
        views = [leaf[:rows] if padded and isinstance(leaf, torch.Tensor) else leaf for leaf in captured.leaves]
        spec = captured.spec
        if self.mode == VIEWS:
            output = _constant(views[0]) if spec.is_leaf() else functools.partial(tree_unflatten, views, spec)
            return _Replay(captured.graph, inputs, output, padded, False, _constant(True), _constant(None))
        # Lent outputs are fresh tensors over the static storage: holding one shows in the storage's count
        fresh = "clone" if self.mode == COPIED else "detach"
        if spec.is_leaf() and isinstance(views[0], torch.Tensor):
            output = getattr(views[0], fresh)
        else:

            def output() -> Any:
                return tree_unflatten([getattr(v, fresh)() if isinstance(v, torch.Tensor) else v for v in views], spec)

        if self.mode == COPIED:
            return _Replay(captured.graph, inputs, output, padded, True, _constant(True), _constant(None))
        lend = functools.partial(setattr, self, "_lent", self._owned.setdefault(size, []))
        return _Replay(captured.graph, inputs, output, padded, False, self.free, lend)

    def watch(self) -> None:
        """Note each output storage's reference count, once the routes' own views of it exist."""
        import torch

        for size, owned in self._owned.items():
            storages = {leaf.untyped_storage()._cdata for leaf in self.captured[size].leaves if torch.is_tensor(leaf)}
            owned[:] = [(storage, self._use_count(storage)) for storage in storages]

    def free(self) -> bool:
        """Whether the caller has let go of every output this set lent (it may replay without harm)."""
        use_count = self._use_count
        for storage, own in self._lent:
            if use_count(storage) > own:
                return False
        return True


class CudaGraphModel(CompiledModel):
    """The compiled model: replays the captured graphs, runs the compiled module for what no graph serves.

    Its statistics are the capture's (`captured`) plus the live counters of the calls so far.
    """

    compiled: Callable[..., Any]
    """The torch.compile'd module the graphs were captured from (it serves the ungraphed calls)."""
    _routes: Dict[Any, Tuple[_Replay, ...]]
    """Per shape of input 0 a graph serves: each set's way to serve it."""

    def __init__(
        self,
        compiled: Callable[..., Any],
        sets: Sequence[GraphSet],
        captured: CompileStats,
        keep_alive: Sequence[Any] = (),
    ) -> None:
        super().__init__(compiled, captured)
        self.compiled = compiled
        self._keep_alive = tuple(keep_alive)
        by_size = sets[0].captured if sets else {}
        self._routes = {}
        for rows, size in batch_routes(list(by_size)).items():
            if rows == size or by_size[size].can_pad():
                replays = tuple(graph_set.replay_for(size, rows) for graph_set in sets)
                self._routes[replays[0].shapes[0]] = replays
        for graph_set in sets:
            graph_set.watch()
        self._arity = len(next(iter(by_size.values())).inputs) if by_size else None
        self.ungraphed_calls = 0

    def __call__(self, *inputs: Any) -> Any:
        replays = self._routes.get(inputs[0].shape) if len(inputs) == self._arity else None
        if replays is None:
            return self._run_ungraphed(inputs)
        for replay in replays:  # the last set is always free
            if replay.free():
                break
        if len(inputs) == 1:  # the usual case, kept short: each step costs on launch-bound models
            replay.copy_in(inputs[0])
        elif any(value.shape != shape for value, shape in zip(inputs[1:], replay.shapes[1:])):
            return self._run_ungraphed(inputs)  # input 0's shape chose the route, another's does not fit
        else:
            for buffer, value in zip(replay.inputs, inputs):
                buffer.copy_(value)
        replay.launch()
        replay.calls += 1
        replay.lend()
        return replay.output()

    def _run_ungraphed(self, inputs: Tuple[Any, ...]) -> Any:
        import torch

        self.ungraphed_calls += 1
        with torch.no_grad():
            return self.compiled(*inputs)

    @property
    def stats(self) -> CompileStats:
        captured = self._stats
        replays, padded, copied, ungraphed = self.replays, self.padded_calls, self.copied_outputs, self.ungraphed_calls
        calls = replays + ungraphed
        live = (
            stat("replays", replays, "count", better="higher", informational=True),
            stat("padded_calls", padded, "count", informational=True),
            stat("copied_outputs", copied, "count", informational=True),
            stat("ungraphed_calls", ungraphed, "count", informational=True),
            per_call("padded_per_call", padded, calls),
            per_call("copied_per_call", copied, calls),
            per_call("ungraphed_per_call", ungraphed, calls),
        )
        return CompileStats(captured.metrics + live, {**captured.details, "served_sizes": list(self.served_sizes)})

    def _calls(self, counted: Callable[[_Replay], bool]) -> int:
        return sum(r.calls for replays in self._routes.values() for r in replays if counted(r))

    @property
    def replays(self) -> int:
        return self._calls(lambda replay: True)

    @property
    def padded_calls(self) -> int:
        return self._calls(lambda replay: replay.padded)

    @property
    def copied_outputs(self) -> int:
        """Calls served by the copying set because the caller held outputs of every lending set."""
        return self._calls(lambda replay: replay.copies)

    @property
    def served_sizes(self) -> Tuple[int, ...]:
        """Batch sizes that replay a graph (captured, or padded up to a captured one)."""
        return tuple(sorted(shape[0] for shape in self._routes))
