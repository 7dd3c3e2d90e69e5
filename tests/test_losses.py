"""Large-catalog losses: same call shape as full softmax, they train, and they shrink the head's memory."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from recbole_bert4rec import Config, run_recbole
from recbole_bert4rec.config_checks import ConfigError
from recbole_bert4rec.losses import (
    FullSoftmaxLoss, GBCELoss, NegativeSampler, SampledSoftmaxLoss, gbce_beta,
)
from tests.tiny_data import tiny_config

SAMPLED_LOSSES = [
    {"loss_type": "sampled_softmax", "negative_sampling": "uniform"},
    {"loss_type": "sampled_softmax", "negative_sampling": "popularity"},
    {"loss_type": "gBCE", "negative_sampling": "uniform"},
]


def head_inputs(n_positions=6, n_items=12, hidden=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(n_positions, hidden, generator=g)
    item_weight = torch.randn(n_items, hidden, generator=g)
    item_bias = torch.randn(n_items, generator=g)
    labels = torch.randint(1, n_items, (n_positions,), generator=g)
    return query, labels, item_weight, item_bias


class FixedSampler(NegativeSampler):
    """Returns the same negatives every call, so sampled losses can be compared with closed forms."""

    def __init__(self, n_items, negatives, distribution="uniform", item_counts=None):
        super().__init__(n_items, len(negatives), distribution, item_counts)
        self.fixed = negatives

    def forward(self, device):
        return self.fixed.to(device)


def test_sampled_softmax_over_every_other_item_equals_full_softmax():
    query, labels, item_weight, item_bias = head_inputs()
    every_item = torch.arange(1, 12)
    sampled = SampledSoftmaxLoss(FixedSampler(12, every_item))(query, labels, item_weight, item_bias)
    full = FullSoftmaxLoss()(query, labels, item_weight, item_bias)
    assert torch.allclose(sampled, full, atol=1e-6)


def test_logq_correction_subtracts_log_sampling_probability_from_each_candidate():
    query, labels, item_weight, item_bias = head_inputs()
    counts = torch.tensor([0, 50, 20, 10, 5, 5, 3, 2, 2, 1, 1, 1])
    negatives = torch.tensor([1, 1, 2, 5, 9])
    sampler = FixedSampler(12, negatives, "popularity", counts)
    corrected = SampledSoftmaxLoss(sampler, logq_correction=True)(query, labels, item_weight, item_bias)

    log_q = (counts.double() / counts[1:].sum()).log().float()
    scores = query @ item_weight.T + item_bias - log_q
    pos = scores.gather(1, labels[:, None])
    neg = scores[:, negatives].masked_fill(negatives[None, :] == labels[:, None], float("-inf"))
    expected = (torch.logsumexp(torch.cat([pos, neg], 1), 1) - pos[:, 0]).mean()
    assert torch.allclose(corrected, expected, atol=1e-5)
    uncorrected = SampledSoftmaxLoss(sampler, logq_correction=False)(query, labels, item_weight, item_bias)
    assert not torch.allclose(corrected, uncorrected)


def test_logq_correction_is_a_no_op_for_uniform_negatives():
    query, labels, item_weight, item_bias = head_inputs()
    sampler = FixedSampler(12, torch.tensor([3, 4, 7, 7, 10]))
    on = SampledSoftmaxLoss(sampler, logq_correction=True)(query, labels, item_weight, item_bias)
    off = SampledSoftmaxLoss(sampler, logq_correction=False)(query, labels, item_weight, item_bias)
    assert torch.allclose(on, off, atol=1e-6)


def test_gbce_beta_spans_plain_bce_to_fully_calibrated():
    assert gbce_beta(256, 3418, 0.0) == pytest.approx(1.0)
    assert gbce_beta(256, 3418, 1.0) == pytest.approx(256 / 3416)
    assert gbce_beta(256, 3418, 0.75) == pytest.approx(1 - 0.75 * (1 - 256 / 3416))


def test_gbce_with_t_zero_is_bce_over_label_and_negatives_skipping_accidental_hits():
    query, labels, item_weight, item_bias = head_inputs()
    negatives = torch.tensor([2, 5, 8])
    loss = GBCELoss(FixedSampler(12, negatives), t=0.0)(query, labels, item_weight, item_bias)
    # beta = 1 at t = 0; scores are shifted by the context-free optimum log(beta / k)
    scores = query @ item_weight.T + item_bias + math.log(1 / 3)
    bce_pos = F.binary_cross_entropy_with_logits(scores.gather(1, labels[:, None])[:, 0], torch.ones(6),
                                                 reduction="none")
    bce_neg = F.binary_cross_entropy_with_logits(scores[:, negatives], torch.zeros(6, 3), reduction="none")
    bce_neg = bce_neg * (negatives[None, :] != labels[:, None])
    assert torch.allclose(loss, ((bce_pos + bce_neg.sum(1)) / 4).mean(), atol=1e-6)


def test_negative_sampler_never_draws_padding_and_follows_popularity():
    counts = torch.tensor([0, 900, 90, 9, 1])
    torch.manual_seed(0)
    draws = NegativeSampler(5, 20_000, "popularity", counts)(torch.device("cpu"))
    share = torch.bincount(draws, minlength=5) / len(draws)
    assert share[0] == 0 and abs(share[1] - 0.9) < 0.02 and share[4] < 0.005
    uniform = NegativeSampler(5, 20_000, "uniform")(torch.device("cpu"))
    assert uniform.min() >= 1 and uniform.max() <= 4


@pytest.mark.parametrize("overrides", SAMPLED_LOSSES, ids=lambda o: f"{o['loss_type']}-{o['negative_sampling']}")
def test_each_sampled_loss_trains_to_the_pattern(tiny_data, overrides):
    result = run_recbole("BERT4Rec", "tiny", saved=False, config_dict=tiny_config(
        tiny_data, epochs=60, stopping_step=100, learning_rate=0.003, hidden_dropout_prob=0.0,
        attn_dropout_prob=0.0, n_negatives=16, **overrides))
    # next item = previous + 1; chance is ~10/37 for hit@10
    assert result["best_valid_result"]["hit@10"] > 0.6, result


@pytest.mark.parametrize("key,value,message", [
    ("loss_type", "softmax", r"loss_type must be one of CE, BPR, sampled_softmax, gBCE"),
    ("n_negatives", 0, r"n_negatives must be >= 1"),
    ("negative_sampling", "zipf", r"negative_sampling must be one of uniform, popularity"),
    ("gbce_t", 1.5, r"gbce_t must be in \[0, 1\]"),
])
def test_bad_loss_settings_fail_before_loading_data(key, value, message, tmp_path):
    loss_type = "gBCE" if key == "gbce_t" else "sampled_softmax"
    overrides = {"loss_type": loss_type, key: value}
    with pytest.raises(ConfigError, match=message):
        Config("BERT4Rec", "nowhere", config_dict=tiny_config(str(tmp_path), **overrides))


def test_gbce_with_popularity_negatives_is_refused_with_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="gBCE's calibration assumes uniform negatives"):
        Config("BERT4Rec", "nowhere", config_dict=tiny_config(
            str(tmp_path), loss_type="gBCE", negative_sampling="popularity"))


def _head_memory():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "head_memory.py"
    spec = importlib.util.spec_from_file_location("head_memory", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sampled_losses_cut_peak_memory_of_the_head_on_a_200k_item_catalog():
    head_memory = _head_memory()
    items, positions, hidden, negatives = 200_000, 256, 64, 256
    full = head_memory.measure("CE", items, positions, hidden, negatives)
    logits_mib = positions * items * 4 / 2**20  # ~195 MiB
    assert full > 2 * logits_mib  # logits, their softmax and their gradient
    for name in ("sampled_softmax/uniform", "sampled_softmax/popularity", "gBCE"):
        sampled = head_memory.measure(name, items, positions, hidden, negatives)
        # What is left is the [n_items x hidden] gradient of the item table (~49 MiB each gather)
        assert sampled < full / 3, (name, sampled, full)
