import torch

from recbole_bert4rec import prepare
from tests.tiny_data import tiny_config


def sasrec(tiny_data, **overrides):
    return prepare("SASRec", "tiny", config_dict=tiny_config(
        tiny_data, train_neg_sample_args=None, loss_type="CE", **overrides))


def test_recbole_sequential_models_get_seen_items_removed_like_ours(tiny_data):
    _, _, trainer, (_, valid, test) = sasrec(tiny_data, exclude_seen_items=True, MAX_ITEM_LIST_LENGTH=3)
    _, _, _, (_, _, ours_test) = prepare("BERT4Rec", "tiny", config_dict=tiny_config(tiny_data))
    history = ours_test._dataset
    for loader, phase in ((valid, "valid"), (test, "test")):
        trainer._eval_phase, trainer.tot_item_num = phase, loader._dataset.item_num
        batch = next(iter(loader))
        interaction, scores, _, _ = trainer._full_sort_batch_eval(batch)
        for row in range(len(interaction)):
            user = int(interaction["user_id"][row])
            start, end = int(history.user_seq_offsets[user]), int(history.user_seq_offsets[user + 1])
            n_before = end - start - (1 if phase == "test" else 2)
            seen = history.user_item_seq[start:start + n_before]
            assert len(seen) > 3  # more than the model's window shows
            assert torch.isinf(scores[row, seen]).all()
            assert torch.isfinite(scores[row, interaction["item_id"][row]])


def test_recbole_models_keep_seen_items_unless_asked(tiny_data):
    _, _, trainer, (_, _, test) = sasrec(tiny_data)
    assert trainer.seen_filter is None
