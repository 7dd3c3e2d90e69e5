import pytest
import torch

from recbole.data.interaction import Interaction

from recbole_bert4rec import prepare
from recbole_bert4rec.dataloader import MASK_LABELS_FIELD
from recbole_bert4rec.masking import left_align, trim_leading_padding
from tests.tiny_data import tiny_config


def build(tiny_data, **overrides):
    config, model, _, loaders = prepare("BERT4Rec", "tiny", config_dict=tiny_config(tiny_data, **overrides))
    return config, model.eval(), loaders


def eval_batch(loader):
    interaction, _, _, _ = next(iter(loader))
    return interaction


def test_forward_and_head_shapes(tiny_data):
    _, model, (train, valid, _) = build(tiny_data)
    batch = next(iter(train))
    hidden = model.forward(batch["item_id_list"])
    assert hidden.shape == (len(batch), 11, 16)  # MAX_ITEM_LIST_LENGTH + 1 columns
    scores = model.full_sort_predict(eval_batch(valid))
    assert scores.shape == (len(eval_batch(valid)), model.n_items)


def test_full_sort_reads_the_mask_appended_after_the_last_item(tiny_data):
    _, model, (_, valid, _) = build(tiny_data, exclude_seen_items=False)
    batch = eval_batch(valid)
    history = left_align(batch["item_id_list"], batch["item_length"], 10)
    with_mask = torch.cat([history, torch.full_like(history[:, :1], model.mask_token)], dim=1)
    expected = model.item_logits(model.forward(with_mask)[:, -1])
    assert torch.allclose(model.full_sort_predict(batch), expected, atol=1e-5)


def test_prediction_keeps_the_oldest_item_of_a_full_history(tiny_data):
    _, model, (_, valid, _) = build(tiny_data, exclude_seen_items=False)
    batch = eval_batch(valid)
    full = batch["item_length"] == 10
    assert full.any()
    changed = Interaction({k: v.clone() for k, v in batch.interaction.items()})
    changed["item_id_list"][full, 0] = changed["item_id_list"][full, 0] % (model.n_items - 1) + 1
    diff = (model.full_sort_predict(batch) - model.full_sort_predict(changed)).abs().sum(1)
    assert (diff[full] > 0).all()


def test_seen_items_are_removed_from_full_ranking_including_beyond_the_window(tiny_data):
    _, model, (_, _, test) = build(tiny_data, MAX_ITEM_LIST_LENGTH=3)
    batch = eval_batch(test)
    scores = model.full_sort_predict(batch)
    dataset = test._dataset
    for row in range(len(batch)):
        user = int(batch["user_id"][row])
        start = int(dataset.user_seq_offsets[user])
        seen = dataset.user_item_seq[start:start + int(batch["full_history_length"][row])]
        assert torch.isinf(scores[row, seen]).all()
        assert int(batch["full_history_length"][row]) >= 3
    unseen_target = scores[torch.arange(len(batch)), batch["item_id"]]
    assert torch.isfinite(unseen_target).all()


def test_predict_matches_full_sort_scores_for_sampled_evaluation(tiny_data):
    _, model, (_, valid, _) = build(tiny_data, exclude_seen_items=False)
    batch = eval_batch(valid)
    full = model.full_sort_predict(batch)
    sampled = model.predict(batch)
    assert torch.allclose(sampled, full[torch.arange(len(batch)), batch["item_id"]], atol=1e-5)


def test_loss_uses_masked_positions_only(tiny_data):
    # a wide init, so that context visibly moves the loss of an untrained model
    _, model, (train, _, _) = build(tiny_data, initializer_range=0.5)
    batch = next(iter(train))
    loss = model.calculate_loss(batch)
    unlabeled = Interaction({k: v.clone() for k, v in batch.interaction.items()})
    not_label = unlabeled[MASK_LABELS_FIELD] == 0
    unlabeled["item_id_list"][not_label & (unlabeled["item_id_list"] > 0)] = 1  # change context only
    assert torch.isfinite(loss) and loss > 0
    assert not torch.isclose(loss, model.calculate_loss(unlabeled))


@pytest.mark.parametrize("act", ["gelu", "relu", "swish", "tanh", "sigmoid"])
def test_every_recbole_activation_trains(tiny_data, act):
    _, model, (train, _, _) = build(tiny_data, hidden_act=act)
    model.train()
    model.calculate_loss(next(iter(train))).backward()
    assert model.item_embedding.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("overrides", [{"loss_type": "BPR"}, {"layer_norm_position": "pre"},
                                       {"output_projection": False}, {"label_smoothing": 0.1},
                                       {"mask_replace_probs": [0.8, 0.1, 0.1]}])
def test_options_give_finite_loss_and_gradients(tiny_data, overrides):
    _, model, (train, _, _) = build(tiny_data, **overrides)
    model.train()
    loss = model.calculate_loss(next(iter(train)))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_model_also_trains_on_recbole_prefix_rows(tiny_data):
    """Rows shaped like RecBole's own SequentialDataset (history + target) are masked in the model."""
    _, model, (_, valid, _) = build(tiny_data)
    model.train()
    loss = model.calculate_loss(eval_batch(valid))
    assert torch.isfinite(loss) and loss > 0


def test_a_batch_cut_to_its_real_width_gives_the_same_hidden_states(tiny_data):
    _, model, (train, _, _) = build(tiny_data)
    full = next(iter(train))["item_id_list"]
    full = torch.cat([torch.zeros_like(full[:, :4]), full[:, 4:]], dim=1)  # at least 4 all-padding columns
    (trimmed,) = trim_leading_padding(full)
    assert trimmed.size(1) < full.size(1) and (trimmed[:, 0] > 0).any()
    width = trimmed.size(1)
    assert torch.allclose(model.forward(full)[:, -width:], model.forward(trimmed), atol=1e-5)


def test_training_loss_equals_the_loss_of_the_full_width_batch(tiny_data):
    _, model, (train, _, _) = build(tiny_data)
    batch = next(iter(train))
    labels = batch[MASK_LABELS_FIELD]
    hidden = model.forward(batch["item_id_list"])[labels > 0]
    expected = model.loss_fct(model.output_projection(hidden), labels[labels > 0],
                              model.item_embedding.weight[: model.n_items], model.output_bias)
    assert torch.allclose(model.calculate_loss(batch), expected, atol=1e-5)


def test_forward_refuses_sequences_wider_than_the_model(tiny_data):
    _, model, _ = build(tiny_data)
    with pytest.raises(ValueError, match="at most 11 .*MAX_ITEM_LIST_LENGTH"):
        model.forward(torch.ones(2, 12, dtype=torch.long))
