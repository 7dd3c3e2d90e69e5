"""Which users go into which training batch: a pure function of the lengths and a generator.

Left-padded batches cost as much as their longest row. Sorting users by length inside small pools
of batches, then shuffling the batches, cuts the padded tokens on ML-1M to ~57% (pools of 16
batches of 128) while every batch is still drawn at random from the data.
"""

import torch


def length_bucketed_order(lengths, batch_size, pool_batches, generator=None):
    """A random order of ``range(len(lengths))`` whose consecutive ``batch_size`` blocks hold similar lengths.

    Args:
        lengths: LongTensor [N], the width each sample will occupy.
        batch_size: samples per batch; the order is meant to be cut into blocks of this size.
        pool_batches: users are sorted by length within random pools of this many batches;
            0 = a plain random permutation (no bucketing).
        generator: torch.Generator, so the order is a function of its seed.

    Returns:
        LongTensor [N], a permutation. Only its last block can be short, as with a plain shuffle.
    """
    if batch_size < 1 or pool_batches < 0:
        raise ValueError(f"batch_size must be >= 1 and pool_batches >= 0, got {batch_size} and {pool_batches}")
    order = torch.randperm(len(lengths), generator=generator)
    if pool_batches == 0:
        return order
    pool = pool_batches * batch_size
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        # stable sort of a random permutation: equal lengths stay in random order
        batches.extend(chunk[torch.sort(lengths[chunk], stable=True).indices].split(batch_size))
    tail = [batches.pop()] if batches and len(batches[-1]) < batch_size else []
    shuffled = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return torch.cat(shuffled + tail) if shuffled or tail else order
