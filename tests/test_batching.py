"""Length-bucketed batch order: a shuffle whose batches hold users of similar length."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recbole_bert4rec.batching import length_bucketed_order


def blocks(order, batch_size):
    return order.split(batch_size)


def padded_tokens(lengths, order, batch_size):
    return sum(int(lengths[block].max()) * len(block) for block in blocks(order, batch_size))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=200), st.integers(1, 16), st.integers(0, 5),
       st.integers(0, 2**31 - 1))
def test_order_is_a_permutation_with_sorted_full_batches_and_only_the_last_one_short(lengths, batch_size, pools, seed):
    lengths = torch.tensor(lengths)
    order = length_bucketed_order(lengths, batch_size, pools, torch.Generator().manual_seed(seed))
    assert sorted(order.tolist()) == list(range(len(lengths)))
    parts = blocks(order, batch_size)
    assert all(len(part) == batch_size for part in parts[:-1])
    if pools:
        assert all(torch.all(lengths[part][1:] >= lengths[part][:-1]) for part in parts)


def test_same_generator_seed_gives_the_same_order_and_another_seed_differs():
    lengths = torch.randint(1, 200, (500,), generator=torch.Generator().manual_seed(0))

    def order(seed):
        return length_bucketed_order(lengths, 32, 4, torch.Generator().manual_seed(seed))

    assert torch.equal(order(7), order(7))
    assert not torch.equal(order(7), order(8))


def test_no_pools_is_a_plain_random_permutation():
    lengths = torch.arange(100)
    order = length_bucketed_order(lengths, 8, 0, torch.Generator().manual_seed(3))
    assert torch.equal(order, torch.randperm(100, generator=torch.Generator().manual_seed(3)))


def test_bucketing_cuts_padded_tokens_of_a_skewed_length_distribution():
    g = torch.Generator().manual_seed(0)
    # long-tailed like ML-1M's histories: most users short, some at the cap
    lengths = (torch.distributions.Exponential(1 / 80).sample((6000,)).long() + 5).clamp(max=201)
    plain = padded_tokens(lengths, length_bucketed_order(lengths, 128, 0, g), 128)
    bucketed = padded_tokens(lengths, length_bucketed_order(lengths, 128, 16, g), 128)
    assert bucketed < 0.7 * plain


def test_batches_come_from_every_part_of_the_shuffle_not_sorted_across_the_epoch():
    lengths = torch.arange(1024)
    order = length_bucketed_order(lengths, 16, 2, torch.Generator().manual_seed(1))
    batch_max = torch.stack([lengths[block].max() for block in blocks(order, 16)])
    assert not torch.all(batch_max[1:] >= batch_max[:-1])  # batch order is shuffled


@pytest.mark.parametrize("batch_size, pools", [(0, 4), (8, -1)])
def test_bad_arguments_are_refused(batch_size, pools):
    with pytest.raises(ValueError, match="batch_size must be >= 1 and pool_batches >= 0"):
        length_bucketed_order(torch.arange(10), batch_size, pools)
