"""GPU-path settings checked on CPU: bf16 autocast trains and ranks in float32; pinned batches only for CUDA."""

import torch

from recbole_bert4rec import Config, create_dataset, data_preparation
from recbole_bert4rec.model import BERT4Rec
from recbole_bert4rec.precision import bf16_autocast, bf16_supported
from tests.tiny_data import tiny_config


def build(tiny_data, **overrides):
    config = Config("BERT4Rec", "tiny", config_dict=tiny_config(tiny_data, **overrides))
    train, valid, _ = data_preparation(config, create_dataset(config))
    return BERT4Rec(config, train._dataset), train, valid


def test_bf16_autocast_trains_with_finite_float32_gradients_and_float32_scores(tiny_data):
    model, train, valid = build(tiny_data, bf16_autocast=True)
    model.train()
    loss = model.calculate_loss(next(iter(train)))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all()
               for p in model.parameters() if p.grad is not None)
    model.eval()
    batch = next(iter(valid))[0]
    with torch.no_grad():
        scores = model.full_sort_predict(batch)
    assert scores.dtype == torch.float32  # bf16's 8-bit mantissa would tie near-equal items in the ranking


def test_bf16_autocast_runs_the_encoder_in_bfloat16_on_cpu():
    assert bf16_supported(torch.device("cpu"))
    with bf16_autocast(torch.device("cpu"), True):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with bf16_autocast(torch.device("cpu"), False):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_training_batches_are_pinned_only_for_cuda(tiny_data):
    _, train, _ = build(tiny_data)
    assert not train.pin_batches and not next(iter(train))["item_id_list"].is_pinned()
