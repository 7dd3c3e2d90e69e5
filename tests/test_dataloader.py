import torch

from recbole_bert4rec import prepare
from recbole_bert4rec.dataloader import MASK_LABELS_FIELD
from tests.tiny_data import tiny_config


def loaders(tiny_data, **overrides):
    _, _, _, data = prepare("BERT4Rec", "tiny", config_dict=tiny_config(tiny_data, **overrides))
    return data


def epoch_labels(train):
    return torch.cat([batch[MASK_LABELS_FIELD] for batch in train])


def test_one_training_sample_per_user_per_epoch(tiny_data):
    train, _, _ = loaders(tiny_data)
    users = torch.cat([batch["user_id"] for batch in train])
    assert len(users) == 60 and len(set(users.tolist())) == 60


def test_masks_are_fresh_each_epoch(tiny_data):
    train, _, _ = loaders(tiny_data)
    assert not torch.equal(epoch_labels(train), epoch_labels(train))


def test_same_seed_replays_identical_batches_also_with_workers(tiny_data):
    first, _, _ = loaders(tiny_data)
    second, _, _ = loaders(tiny_data, worker=2)
    for _ in range(2):
        a, b = list(first), list(second)
        assert all(torch.equal(x["item_id_list"], y["item_id_list"]) for x, y in zip(a, b))
        assert all(torch.equal(x[MASK_LABELS_FIELD], y[MASK_LABELS_FIELD]) for x, y in zip(a, b))


def test_other_seed_gives_other_masks(tiny_data):
    a, _, _ = loaders(tiny_data, seed=1)
    b, _, _ = loaders(tiny_data, seed=2)
    assert not torch.equal(epoch_labels(a), epoch_labels(b))


def test_last_training_item_can_be_a_label(tiny_data):
    train, _, test = loaders(tiny_data, last_item_mask_ratio=1.0, train_window="latest")
    dataset = test._dataset
    batch = next(iter(train))
    for user, label in zip(batch["user_id"].tolist(), batch[MASK_LABELS_FIELD][:, -1].tolist()):
        end = int(dataset.user_seq_offsets[user + 1])
        assert label == int(dataset.user_item_seq[end - 3])  # last item before valid and test targets


def test_train_memory_grows_with_interactions_not_times_length(tiny_data):
    train, valid, test = loaders(tiny_data)
    n_interactions = len(test._dataset.user_item_seq)
    assert train.items.numel() == n_interactions - len(valid._dataset) - len(test._dataset)
    assert "item_id_list" not in train._dataset.inter_feat  # no [rows x length] history matrix
    assert len(valid._dataset) == len(test._dataset) == 60  # one eval row per user


def test_length_bucketing_makes_batches_narrower_and_still_covers_every_user_once(tiny_data):
    def real_widths(train):
        widths, users = [], []
        for batch in train:
            real = (batch["item_id_list"] > 0).any(dim=0)
            widths.append(int(real.sum()))
            users += batch["user_id"].tolist()
        assert sorted(users) == sorted(set(users)) and len(users) == 60
        return sum(widths)

    plain, _, _ = loaders(tiny_data, length_bucket_batches=0, train_batch_size=8, MAX_ITEM_LIST_LENGTH=20)
    bucketed, _, _ = loaders(tiny_data, length_bucket_batches=4, train_batch_size=8, MAX_ITEM_LIST_LENGTH=20)
    assert real_widths(bucketed) < real_widths(plain)
