"""The token check: a difference is a tie only within the rounding measured at that point (toy logits)."""

from types import SimpleNamespace

import pytest
import torch

from pytest_aotperf.llm.agreement import Agreement, agreement, first_difference

VOCAB = 12


class ToyLogits(torch.nn.Module):
    """Logits `high + low` per token id, whatever came before: an addition the model's dtype rounds."""

    def __init__(self, high, low, dtype):
        super().__init__()
        pad = [0.0] * (VOCAB - len(high))
        self.high = torch.nn.Parameter(torch.tensor(high + pad, dtype=dtype), requires_grad=False)
        self.low = torch.nn.Parameter(torch.tensor(low + pad, dtype=dtype), requires_grad=False)

    def forward(self, ids):
        return SimpleNamespace(logits=(self.high + self.low).expand(*ids.shape, VOCAB))


def test_first_difference_is_the_earliest_step_of_any_request():
    assert first_difference([[1, 2, 3], [4, 5, 6]], [[1, 2, 9], [4, 7, 6]]) == (1, 1)
    assert first_difference([[1, 2]], [[1, 2]]) is None
    with pytest.raises(ValueError, match="different shapes"):
        first_difference([[1, 2]], [[1]])


def test_two_logits_that_bfloat16_rounds_together_are_a_tie():
    # 256.75 and 256.25 both round to 256 in bfloat16 (its step is 2 there); exact gap 0.5, rounding 0.75
    model = ToyLogits([256.0, 256.0], [0.75, 0.25], torch.bfloat16)
    found = agreement(model, [[5, 6]], [[0, 3]], [[1, 3]])
    assert (found.first_difference, found.logit_gap, found.exact_gap, found.rounding) == ((0, 0), 0.0, 0.5, 0.75)
    assert found.tie
    assert found.describe() == (
        "identical up to step 0 of request 0, where the logit gap was 0 (float32: 0.5; "
        "bfloat16 rounding moved the best logits by up to 0.75): a tie"
    )


def test_a_gap_wider_than_twice_the_rounding_is_not_a_tie():
    model = ToyLogits([256.0, 240.0, 8.0], [0.75, 0.0, 0.0], torch.bfloat16)
    found = agreement(model, [[5]], [[4, 0]], [[4, 1]])
    assert (found.first_difference, found.exact_gap, found.rounding) == ((0, 1), 16.75, 0.75)
    assert not found.tie and found.describe().endswith("): NOT a tie")


def test_float32_is_checked_against_float64_and_identical_tokens_need_no_pass():
    model = ToyLogits([3.0, 3.0], [1e-8, 0.0], torch.float32)
    found = agreement(model, [[5]], [[0]], [[1]])
    assert found.dtype == "float32" and found.exact_gap == pytest.approx(1e-8) and found.tie
    assert agreement(None, [[5]], [[0]], [[0]]) == Agreement(None)
    assert Agreement(None).tie and Agreement(None).describe() == "identical"


def test_the_rounding_benchmark_reports_each_prompts_gap_rounding_and_tie(capsys):
    from benchmarks import logit_rounding

    logit_rounding.main(["--model", "tiny-llama", "--dtype", "bfloat16", "--device", "cpu", "--prompts", "3"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "tiny-llama, bfloat16 on cpu: the first token of 3 prompts"
    assert [line.split(" | ")[0] for line in lines[3:6]] == ["| 0", "| 1", "| 2"]
    assert lines[-1].endswith("of 3 prompts' best two are a tie")
