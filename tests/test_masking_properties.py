"""Property-based tests (hypothesis) of the cloze masking and the masking train loader on random sequences."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from recbole.data.interaction import Interaction
from recbole.utils import ModelType

from recbole_bert4rec.dataloader import MASK_LABELS_FIELD, MaskedItemSequenceDataLoader
from recbole_bert4rec.masking import left_align, mask_item_sequences, sample_windows

N_ITEMS = 30  # ids 1..29 are items, 0 padding, 30 the [MASK] token
MASK = N_ITEMS
SETTINGS = settings(max_examples=60, deadline=None)

sequences = st.lists(st.integers(1, N_ITEMS - 1), min_size=0, max_size=12)
batches = st.lists(sequences, min_size=1, max_size=8)
probabilities = st.floats(0.05, 0.95)
replace_splits = st.one_of(st.none(), st.sampled_from([(0.8, 0.1, 0.1), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]))
seeds = st.integers(0, 2**31 - 1)


def left_padded(batch, width=12):
    rows = torch.zeros(len(batch), width, dtype=torch.long)
    for row, items in enumerate(batch):
        if items:
            rows[row, width - len(items):] = torch.tensor(items)
    return rows


def mask(item_seq, ratio, last_ratio=0.0, replace=None, seed=0):
    return mask_item_sequences(item_seq, MASK, N_ITEMS, ratio, last_ratio, replace,
                               torch.Generator().manual_seed(seed))


# ---- mask_item_sequences ----------------------------------------------------------------------

@SETTINGS
@given(batches, probabilities, st.floats(0, 1), replace_splits, seeds)
def test_labels_are_the_original_items_at_masked_real_positions(batch, ratio, last_ratio, replace, seed):
    item_seq = left_padded(batch)
    masked_seq, labels = mask(item_seq, ratio, last_ratio, replace, seed)
    padding = item_seq == 0
    assert not labels[padding].any() and not masked_seq[padding].any()  # padding: never a label, never altered
    is_label = labels > 0
    assert torch.equal(labels[is_label], item_seq[is_label])
    assert torch.equal(masked_seq[~is_label], item_seq[~is_label])  # only labelled positions change


@SETTINGS
@given(batches, probabilities, st.floats(0, 1), replace_splits, seeds)
def test_every_non_empty_sequence_gets_at_least_one_label(batch, ratio, last_ratio, replace, seed):
    item_seq = left_padded(batch)
    _, labels = mask(item_seq, ratio, last_ratio, replace, seed)
    has_items = (item_seq > 0).any(dim=1)
    assert torch.equal((labels > 0).any(dim=1), has_items)


@SETTINGS
@given(batches, probabilities, replace_splits, seeds)
def test_labelled_positions_hold_mask_a_random_item_or_the_original(batch, ratio, replace, seed):
    item_seq = left_padded(batch)
    masked_seq, labels = mask(item_seq, ratio, replace=replace, seed=seed)
    shown = masked_seq[labels > 0]
    if replace is None:
        assert (shown == MASK).all()
    else:
        assert ((shown == MASK) | ((shown >= 1) & (shown < N_ITEMS))).all()
        if replace == (0.0, 0.0, 1.0):  # "keep" only: the input is unchanged, only labels mark positions
            assert torch.equal(masked_seq, item_seq)


@SETTINGS
@given(batches, probabilities, seeds)
def test_last_item_only_samples_label_exactly_the_last_column(batch, ratio, seed):
    item_seq = left_padded(batch)
    _, labels = mask(item_seq, ratio, last_ratio=1.0, seed=seed)
    for row in range(len(batch)):
        expected = [batch[row][-1]] if batch[row] else []
        assert labels[row][labels[row] > 0].tolist() == expected
        assert batch[row] == [] or labels[row, -1] == batch[row][-1]


@SETTINGS
@given(batches, probabilities, st.floats(0, 1), replace_splits, seeds)
def test_same_generator_seed_gives_the_same_masks(batch, ratio, last_ratio, replace, seed):
    item_seq = left_padded(batch)
    first = mask(item_seq, ratio, last_ratio, replace, seed)
    second = mask(item_seq, ratio, last_ratio, replace, seed)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


# ---- windows and alignment --------------------------------------------------------------------

@SETTINGS
@given(st.lists(st.lists(st.integers(1, N_ITEMS - 1), min_size=1, max_size=25), min_size=1, max_size=6),
       st.integers(2, 12), st.booleans(), seeds)
def test_windows_are_contiguous_runs_of_each_users_items(users, window, random_window, seed):
    items = torch.tensor([item for user in users for item in user])
    ends = torch.tensor(np.cumsum([len(user) for user in users]))
    starts = ends - torch.tensor([len(user) for user in users])
    windows = sample_windows(items, starts, ends, window, random_window, torch.Generator().manual_seed(seed))
    assert windows.shape == (len(users), window)
    for row, user in enumerate(users):
        kept = min(len(user), window)
        assert not windows[row, : window - kept].any()  # left padding
        run = windows[row, window - kept:].tolist()
        if not random_window:
            assert run == user[-kept:]  # the newest items
        else:
            assert any(user[i:i + kept] == run for i in range(len(user) - kept + 1))


@SETTINGS
@given(batches, st.integers(1, 14))
def test_left_align_keeps_the_newest_items_ending_in_the_last_column(batch, width):
    right_padded = torch.zeros(len(batch), 12, dtype=torch.long)
    for row, items in enumerate(batch):
        right_padded[row, : len(items)] = torch.tensor(items, dtype=torch.long)
    lengths = torch.tensor([len(items) for items in batch])
    aligned = left_align(right_padded, lengths, width)
    for row, items in enumerate(batch):
        newest = items[-width:] if items else []
        assert aligned[row].tolist() == [0] * (width - len(newest)) + newest


# ---- the masking train loader -----------------------------------------------------------------

class LoaderConfig(dict):
    """What the loader reads of a RecBole Config; missing keys are None, as in RecBole."""

    def __getitem__(self, key):
        return self.get(key)


class UserSequences:
    """The part of a RecBole dataset the loader reads: interactions grouped by user, in time order."""

    uid_field, iid_field = "user_id", "item_id"

    def __init__(self, users):
        self.user_num = len(users) + 1  # id 0 is padding
        user_ids = [uid for uid, items in enumerate(users, start=1) for _ in items]
        self.inter_feat = Interaction({
            "user_id": torch.tensor(user_ids, dtype=torch.long),
            "item_id": torch.tensor([item for items in users for item in items], dtype=torch.long),
        })

    def num(self, field_name):
        return N_ITEMS if field_name == self.iid_field else self.user_num


def build_loader(users, batch_size, window, seed, random_window, bucket_batches=0):
    config = LoaderConfig(
        seed=seed, MODEL_TYPE=ModelType.SEQUENTIAL, single_spec=True, worker=0, transform=None,
        train_batch_size=batch_size, LIST_SUFFIX="_list", MAX_ITEM_LIST_LENGTH=window - 1, mask_ratio=0.3,
        last_item_mask_ratio=0.2, mask_replace_probs=None, train_window="random" if random_window else "latest",
        length_bucket_batches=bucket_batches,
    )
    return MaskedItemSequenceDataLoader(config, UserSequences(users), shuffle=True)


loader_users = st.lists(st.lists(st.integers(1, N_ITEMS - 1), min_size=1, max_size=20), min_size=1, max_size=12)


@SETTINGS
@given(loader_users, st.integers(1, 5), st.integers(3, 8), seeds, st.booleans(), st.integers(0, 3))
def test_each_epoch_masks_one_window_of_every_user(users, batch_size, window, seed, random_window, bucket_batches):
    loader = build_loader(users, batch_size, window, seed, random_window, bucket_batches)
    batches = list(loader)
    user_ids = torch.cat([batch["user_id"] for batch in batches]).tolist()
    assert sorted(user_ids) == list(range(1, len(users) + 1))
    for batch in batches:
        labels, masked = batch[MASK_LABELS_FIELD], batch["item_id_list"]
        assert masked.shape[1] == window and (labels > 0).any(dim=1).all()
        restored = torch.where(labels > 0, labels, masked)
        for row, uid in enumerate(batch["user_id"].tolist()):
            items, kept = users[uid - 1], min(len(users[uid - 1]), window)
            run = restored[row, window - kept:].tolist()
            assert not restored[row, : window - kept].any()
            assert any(items[i:i + kept] == run for i in range(len(items) - kept + 1))


@SETTINGS
@given(loader_users, st.integers(1, 5), seeds, st.integers(0, 3), st.integers(0, 3))
def test_set_epoch_replays_an_epoch_exactly(users, batch_size, seed, epoch, bucket_batches):
    loader = build_loader(users, batch_size, 6, seed, random_window=True, bucket_batches=bucket_batches)
    for _ in range(epoch):
        list(loader)
    played = list(loader)
    loader.set_epoch(epoch)
    replayed = list(loader)
    assert len(played) == len(replayed)
    for a, b in zip(played, replayed):
        for name in ("user_id", "item_id_list", MASK_LABELS_FIELD):
            assert torch.equal(a[name], b[name])
