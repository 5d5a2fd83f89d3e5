"""Merged projections: q/k/v and gate/up as one Linear each, the same logits, the weights held once."""

import pytest
import torch

from pytest_aotperf.llm import hf_model
from pytest_aotperf.llm.hf.engine import hf_options
from pytest_aotperf.llm.hf.merged import merge_projections
from pytest_aotperf.llm.specs import resolve_model

SPEC = resolve_model("tiny-llama")


def test_merged_layers_give_the_same_logits_with_the_same_parameter_count():
    separate, merged = (hf_model.build_model(SPEC, "float32", "cpu") for _ in range(2))
    assert merge_projections(merged) == len(merged.model.layers)
    tokens = torch.randint(0, merged.config.vocab_size, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(merged(tokens).logits, separate(tokens).logits)
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert count(merged) == count(separate)
    attention, mlp = merged.model.layers[0].self_attn, merged.model.layers[0].mlp
    assert not any(hasattr(attention, name) for name in ("q_proj", "k_proj", "v_proj"))
    assert not any(hasattr(mlp, name) for name in ("gate_proj", "up_proj"))


def test_another_familys_layers_are_refused_by_name_before_any_layer_changes():
    model = hf_model.build_model(SPEC, "float32", "cpu")
    model.model.layers[-1].self_attn = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="merge_projections supports transformers' LlamaAttention, not Linear"):
        merge_projections(model)
    assert type(model.model.layers[0].self_attn).__name__ == "LlamaAttention"


def test_merge_projections_is_an_option_of_the_compiling_backends_only():
    assert hf_options("inductor", SPEC, "cpu", {"merge_projections": True}).merge_projections
    assert not hf_options("inductor", SPEC, "cpu", {}).merge_projections
    with pytest.raises(TypeError, match="merge_projections takes True or False, not 'yes'"):
        hf_options("inductor", SPEC, "cpu", {"merge_projections": "yes"})
    with pytest.raises(TypeError, match="eager backend takes dtype; got 'merge_projections'"):
        hf_options("eager", SPEC, "cpu", {"merge_projections": True})
