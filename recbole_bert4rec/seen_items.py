"""Removing already-seen items from full-sort rankings (the published ML-1M/ML-20M protocol).

Our BERT4Rec does it inside ``full_sort_predict``. RecBole's sequential models never do, so for
like-for-like comparisons (SASRec, RecBole's own BERT4Rec) the trainer applies the same filter to
their scores, from the full per-user history of the dataset.
"""

import numpy as np
import torch


def history_pairs(seen_items, seen_offsets, users, history_lengths):
    """(row, item) pairs of the first ``history_lengths[row]`` items of each row's user.

    ``seen_items``/``seen_offsets`` are a CSR of every user's items in time order.
    """
    starts = seen_offsets[users]
    rows = torch.repeat_interleave(torch.arange(len(users), device=users.device), history_lengths)
    first_of_row = torch.repeat_interleave(torch.cumsum(history_lengths, 0) - history_lengths, history_lengths)
    within_row = torch.arange(len(rows), device=users.device) - first_of_row
    return rows, seen_items[torch.repeat_interleave(starts, history_lengths) + within_row]


class SeenItemFilter:
    """Per-user histories of a RecBole dataset, built before its leave-one-out split.

    With ``LS: valid_and_test`` the test target is each user's last interaction and the validation
    target the second-last, so the history before them has ``n - 1`` and ``n - 2`` items.
    """

    HELD_OUT_AFTER_TARGET = {"test": 0, "valid": 1}

    def __init__(self, dataset):
        feat = dataset.inter_feat  # a DataFrame until RecBole's build() converts it
        users = np.asarray(feat[dataset.uid_field], dtype=np.int64)
        order = np.lexsort((np.asarray(feat[dataset.time_field]), users))  # stable: ties keep file order
        counts = np.bincount(users, minlength=dataset.user_num)
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        self.items = torch.from_numpy(np.asarray(feat[dataset.iid_field], dtype=np.int64)[order])
        self.offsets = torch.from_numpy(offsets)
        self.counts = torch.from_numpy(counts)
        self.uid_field = dataset.uid_field

    def apply(self, scores, interaction, phase):
        """Set the scores of every item the row's user saw before the target to -inf, in place."""
        users = interaction[self.uid_field].cpu()
        lengths = (self.counts[users] - 1 - self.HELD_OUT_AFTER_TARGET[phase]).clamp(min=0)
        rows, items = history_pairs(self.items, self.offsets, users, lengths)
        scores[rows.to(scores.device), items.to(scores.device)] = float("-inf")
        return scores
