"""Merged projections for Llama decoder layers: q, k and v as one GEMM, gate and up as another.

vLLM's Llama does the same (`QKVParallelLinear`, `MergedColumnParallelLinear`). A decode step at a small
batch is a row of GEMVs, each reading its weights once: five launches a layer become two, and each
reads its input once. On the H200 the 1B decode step's matmuls took 1,039 µs on our path against
vLLM's 808 µs (docs/benchmarks.md, section 8). The separate projections are replaced (`qkv_proj` and
`gate_up_proj` take the place of `q_proj`, `k_proj`, `v_proj`, `gate_proj` and `up_proj`), so the
weights are held once.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Tuple


def merged_linear(parts: Tuple[Any, ...]) -> Any:
    """One Linear whose output is the parts' outputs side by side (their weights, and biases, concatenated)."""
    import torch
    from torch import nn

    first = parts[0]
    bias = first.bias is not None
    merged = nn.Linear(
        first.in_features,
        sum(part.out_features for part in parts),
        bias=bias,
        device=first.weight.device,
        dtype=first.weight.dtype,
    )
    with torch.no_grad():
        merged.weight.copy_(torch.cat([part.weight for part in parts]))
        if bias:
            merged.bias.copy_(torch.cat([part.bias for part in parts]))
    return merged.requires_grad_(first.weight.requires_grad)


@functools.lru_cache(maxsize=None)
def merged_attention_class(attention_class: type) -> type:
    """`attention_class` (transformers' LlamaAttention) with q, k and v projected by one `qkv_proj`."""
    modeling = sys.modules[attention_class.__module__]

    class MergedAttention(attention_class):  # type: ignore[misc]  # a base class known only at runtime
        def forward(
            self,
            hidden_states: Any,
            position_embeddings: Any = None,
            attention_mask: Any = None,
            past_key_values: Any = None,
            **kwargs: Any,
        ) -> Tuple[Any, Any]:
            input_shape = hidden_states.shape[:-1]
            hidden_shape = (*input_shape, -1, self.head_dim)
            query_states, key_states, value_states = (
                part.view(hidden_shape).transpose(1, 2)
                for part in self.qkv_proj(hidden_states).split(self.qkv_sizes, -1)
            )
            cos, sin = position_embeddings
            query_states, key_states = modeling.apply_rotary_pos_emb(query_states, key_states, cos, sin)
            if past_key_values is not None:
                key_states, value_states = past_key_values.update(key_states, value_states, self.layer_idx)
            attention_interface = modeling.ALL_ATTENTION_FUNCTIONS.get_interface(
                self.config._attn_implementation, modeling.eager_attention_forward
            )
            attn_output, attn_weights = attention_interface(
                self,
                query_states,
                key_states,
                value_states,
                attention_mask,
                dropout=0.0 if not self.training else self.attention_dropout,
                scaling=self.scaling,
                **kwargs,
            )
            attn_output = attn_output.reshape(*input_shape, -1).contiguous()
            return self.o_proj(attn_output), attn_weights

    MergedAttention.__name__ = MergedAttention.__qualname__ = f"Merged{attention_class.__name__}"
    return MergedAttention


@functools.lru_cache(maxsize=None)
def merged_mlp_class(mlp_class: type) -> type:
    """`mlp_class` (transformers' LlamaMLP) with gate and up projected by one `gate_up_proj`."""

    class MergedMLP(mlp_class):  # type: ignore[misc]  # a base class known only at runtime
        def forward(self, x: Any) -> Any:
            gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
            return self.down_proj(self.act_fn(gate) * up)

    MergedMLP.__name__ = MergedMLP.__qualname__ = f"Merged{mlp_class.__name__}"
    return MergedMLP


def merge_projections(model: Any) -> int:
    """Merge every decoder layer's projections in place; returns the layers merged.

    Only transformers' Llama layers: another family's attention (biases, q/k norms) would be computed
    wrongly by Llama's forward, so it is a ValueError naming the class.
    """
    from transformers.models.llama.modeling_llama import LlamaAttention, LlamaMLP

    layers = model.model.layers
    for layer in layers:  # every layer checked before any is changed
        for module, expected in ((layer.self_attn, LlamaAttention), (layer.mlp, LlamaMLP)):
            if type(module) is not expected:
                raise ValueError(
                    f"merge_projections supports transformers' {expected.__name__}, not {type(module).__name__}"
                )
    attention_class, mlp_class = merged_attention_class(LlamaAttention), merged_mlp_class(LlamaMLP)
    for layer in layers:
        attention, mlp = layer.self_attn, layer.mlp
        parts = (attention.q_proj, attention.k_proj, attention.v_proj)
        attention.qkv_sizes = [part.out_features for part in parts]
        attention.qkv_proj = merged_linear(parts)
        del attention.q_proj, attention.k_proj, attention.v_proj
        attention.__class__ = attention_class
        mlp.gate_up_proj = merged_linear((mlp.gate_proj, mlp.up_proj))
        del mlp.gate_proj, mlp.up_proj
        mlp.__class__ = mlp_class
    return len(layers)
