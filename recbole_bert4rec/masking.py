"""Cloze masking for BERT4Rec training batches: pure functions on tensors, no RecBole state.

Sequences are LEFT-padded with 0 (padding id), so the most recent item always sits in the last
column. That is also where inference puts its [MASK], which makes "mask only the last item"
samples line up exactly with prediction.
"""

import torch

PADDING_ID = 0


def mask_item_sequences(
    item_seq,
    mask_token,
    n_items,
    mask_ratio,
    last_item_ratio=0.0,
    replace_probs=None,
    generator=None,
):
    """Mask a batch of left-padded item sequences for the cloze task.

    Args:
        item_seq: LongTensor [B, L], real item ids in [1, n_items), 0 = padding.
        mask_token: id written at masked positions (``n_items`` in our model).
        n_items: number of item ids including padding (RecBole's ``dataset.num(item_id)``).
        mask_ratio: probability that a real position is masked, in (0, 1).
        last_item_ratio: share of samples that mask only their last item (matches inference).
        replace_probs: ``None`` (every masked position becomes ``mask_token``) or BERT's
            ``(p_mask, p_random, p_keep)`` split, e.g. ``(0.8, 0.1, 0.1)``.
        generator: torch.Generator for reproducible masks.

    Returns:
        (masked_seq, labels): both [B, L]; ``labels`` holds the original item at masked positions
        and 0 elsewhere, so padding is never a label and never altered.
    """
    if item_seq.dim() != 2:
        raise ValueError(f"item_seq must be [batch, length], got shape {tuple(item_seq.shape)}")
    batch, length = item_seq.shape
    real = item_seq != PADDING_ID
    # Every random draw below happens unconditionally so the stream, and thus the masks,
    # depend only on the generator state and the batch shape.
    masked = (torch.rand(batch, length, generator=generator) < mask_ratio) & real

    # At least one label per sample: pick a random real position where the coin flips all failed.
    pick = torch.rand(batch, length, generator=generator).masked_fill(~real, -1.0).argmax(dim=1)
    unmasked_rows = ~masked.any(dim=1) & real.any(dim=1)
    masked[unmasked_rows, pick[unmasked_rows]] = True

    last_only = (torch.rand(batch, generator=generator) < last_item_ratio) & real[:, -1]
    masked[last_only] = False
    masked[last_only, -1] = True

    labels = torch.where(masked, item_seq, torch.zeros_like(item_seq))
    masked_seq = item_seq.clone()
    if replace_probs is None:
        masked_seq[masked] = mask_token
        return masked_seq, labels

    p_mask, p_random, _ = replace_probs
    choice = torch.rand(batch, length, generator=generator)
    random_items = torch.randint(1, max(n_items, 2), (batch, length), generator=generator)
    to_mask = masked & (choice < p_mask)
    to_random = masked & (choice >= p_mask) & (choice < p_mask + p_random)
    masked_seq[to_mask] = mask_token
    masked_seq[to_random] = random_items[to_random]
    return masked_seq, labels


def sample_windows(items, starts, ends, window, random_window, generator=None):
    """Cut one left-padded window of at most ``window`` items per user from a flat item array.

    Args:
        items: LongTensor [N], all users' training items, each user's block in time order.
        starts, ends: LongTensor [B], the block [start, end) of each user in the batch.
        window: columns of the output (history length + 1 slot for the [MASK]).
        random_window: if True, users longer than ``window`` get a uniformly random window;
            otherwise their most recent ``window`` items.

    Returns:
        LongTensor [B, window], left-padded with 0.
    """
    lengths = ends - starts
    kept = lengths.clamp(max=window)
    slack = lengths - kept  # how far the window can slide back from the newest item
    if random_window:
        # floor(u * (slack + 1)) is uniform over the slack + 1 possible windows.
        back = (torch.rand(len(starts), generator=generator) * (slack + 1).double()).long()
        back = torch.minimum(back, slack)
    else:
        back = torch.zeros_like(slack)
    window_end = ends - back
    positions = window_end.unsqueeze(1) - window + torch.arange(window).unsqueeze(0)
    inside = positions >= (window_end - kept).unsqueeze(1)
    gathered = items[positions.clamp(min=0, max=max(len(items) - 1, 0))]
    return torch.where(inside, gathered, torch.zeros_like(gathered))


def left_align(item_seq, item_len, width):
    """Turn RecBole's right-padded ``item_id_list`` into left-padded rows of ``width`` columns.

    The newest ``width`` items are kept, in order, ending at the last column.
    """
    batch, length = item_seq.shape
    item_len = item_len.clamp(max=length)
    columns = torch.arange(width, device=item_seq.device).unsqueeze(0)
    source = item_len.unsqueeze(1) - width + columns
    valid = source >= 0
    gathered = item_seq.gather(1, source.clamp(min=0, max=length - 1))
    return torch.where(valid, gathered, torch.zeros_like(gathered))


def trim_leading_padding(item_seq, *aligned):
    """Drop the leading columns that are padding in every row, from ``item_seq`` and each aligned tensor.

    Left padding keeps every real item, so a batch of short sequences becomes a narrow batch;
    position ids count from the end, so the model's output does not change.
    """
    real_columns = (item_seq != PADDING_ID).any(dim=0)
    first = int(real_columns.int().argmax()) if bool(real_columns.any()) else item_seq.size(1) - 1
    return (item_seq[:, first:], *(tensor[:, first:] for tensor in aligned))
