import torch

from recbole_bert4rec.masking import left_align, mask_item_sequences, sample_windows

N_ITEMS = 50
MASK = N_ITEMS


def left_padded_batch(lengths, width=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    rows = []
    for n in lengths:
        row = torch.zeros(width, dtype=torch.long)
        row[width - n:] = torch.randint(1, N_ITEMS, (n,), generator=g)
        rows.append(row)
    return torch.stack(rows)


def mask(seq, seed=1, **kwargs):
    return mask_item_sequences(seq, MASK, N_ITEMS, kwargs.pop("mask_ratio", 0.2),
                               generator=torch.Generator().manual_seed(seed), **kwargs)


def test_labels_only_at_masked_positions_and_hold_original_items():
    seq = left_padded_batch([12, 5, 1, 8] * 8)
    masked_seq, labels = mask(seq)
    is_label = labels > 0
    assert torch.equal(labels[is_label], seq[is_label])
    assert (masked_seq[is_label] == MASK).all()
    assert torch.equal(masked_seq[~is_label], seq[~is_label])


def test_padding_is_never_masked_or_changed():
    seq = left_padded_batch([3, 1, 7] * 20)
    masked_seq, labels = mask(seq, mask_ratio=0.9, replace_probs=(0.8, 0.1, 0.1))
    padding = seq == 0
    assert (masked_seq[padding] == 0).all()
    assert (labels[padding] == 0).all()


def test_every_sample_gets_at_least_one_label():
    seq = left_padded_batch([1, 2, 3] * 50)
    _, labels = mask(seq, mask_ratio=0.01)
    assert ((labels > 0).sum(dim=1) >= 1).all()


def test_same_generator_seed_gives_same_masks_and_other_seed_differs():
    seq = left_padded_batch([12] * 16)
    assert torch.equal(mask(seq, seed=3)[1], mask(seq, seed=3)[1])
    assert not torch.equal(mask(seq, seed=3)[1], mask(seq, seed=4)[1])


def test_mask_ratio_sets_share_of_masked_positions():
    seq = left_padded_batch([12] * 2000)
    _, labels = mask(seq, mask_ratio=0.3)
    share = (labels > 0).float().mean().item()
    assert 0.28 < share < 0.33


def test_last_item_mode_masks_only_the_newest_item():
    seq = left_padded_batch([12, 4] * 100)
    _, labels = mask(seq, last_item_ratio=1.0)
    assert (labels[:, -1] == seq[:, -1]).all()
    assert (labels[:, :-1] == 0).all()


def test_last_item_ratio_is_the_share_of_last_only_samples():
    seq = left_padded_batch([12] * 4000)
    _, labels = mask(seq, mask_ratio=0.5, last_item_ratio=0.25)
    last_only = ((labels > 0).sum(1) == 1) & (labels[:, -1] > 0)
    assert 0.22 < last_only.float().mean().item() < 0.29


def test_bert_replacement_splits_masked_positions_80_10_10():
    seq = left_padded_batch([12] * 3000)
    masked_seq, labels = mask(seq, mask_ratio=0.5, replace_probs=(0.8, 0.1, 0.1))
    is_label = labels > 0
    as_mask = (masked_seq[is_label] == MASK).float().mean().item()
    kept = (masked_seq[is_label] == seq[is_label]).float().mean().item()
    assert 0.78 < as_mask < 0.82
    # "keep" plus random draws that hit the original item by chance (1/49 of 10%)
    assert 0.09 < kept < 0.12
    assert (masked_seq[is_label] < MASK).sum() > 0


def test_latest_window_takes_newest_items_left_padded():
    items = torch.arange(1, 21)  # user A: 1..15, user B: 16..20
    windows = sample_windows(items, torch.tensor([0, 15]), torch.tensor([15, 20]), 6, random_window=False)
    assert windows.tolist() == [[10, 11, 12, 13, 14, 15], [0, 16, 17, 18, 19, 20]]


def test_random_window_is_contiguous_and_covers_all_starts():
    items = torch.arange(1, 11)
    g = torch.Generator().manual_seed(0)
    starts = set()
    for _ in range(200):
        w = sample_windows(items, torch.tensor([0]), torch.tensor([10]), 4, True, g)[0]
        assert torch.equal(w, torch.arange(int(w[0]), int(w[0]) + 4))
        starts.add(int(w[0]))
    assert starts == set(range(1, 8))


def test_left_align_keeps_newest_items_at_the_right():
    right_padded = torch.tensor([[5, 6, 7, 0, 0], [1, 2, 3, 4, 5]])
    lengths = torch.tensor([3, 5])
    assert left_align(right_padded, lengths, 4).tolist() == [[0, 5, 6, 7], [2, 3, 4, 5]]
