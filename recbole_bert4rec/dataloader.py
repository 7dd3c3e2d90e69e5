"""Training loader: one sample per user, a fresh cloze mask on every pass.

Replaces RecBole's one-row-per-prefix training data. It keeps only the flat array of training
items plus per-user offsets (memory ~ interactions) and cuts windows and masks in ``collate_fn``.
"""

import numpy as np
import torch

from recbole.data.dataloader.abstract_dataloader import AbstractDataLoader
from recbole.data.interaction import Interaction

from recbole_bert4rec.batching import length_bucketed_order
from recbole_bert4rec.masking import mask_item_sequences, sample_windows

# Interaction field holding the cloze labels (0 = not a label); the masked sequence goes
# into RecBole's usual ``item_id_list`` field.
MASK_LABELS_FIELD = "masked_item_labels"

# Golden-ratio increment of splitmix64: spreads (seed, epoch, batch) into unrelated seeds.
_SEED_STEP = 0x9E3779B97F4A7C15
_SEED_MOD = 2**63


def derive_seed(*parts):
    """A deterministic 63-bit seed from integers (same inputs, same seed, in any process)."""
    value = 0
    for part in parts:
        value = (value * _SEED_STEP + int(part) + 1) % _SEED_MOD
        value ^= value >> 31
    return value


class MaskedItemSequenceDataLoader(AbstractDataLoader):
    """Yields ``Interaction``s with ``item_id_list`` (masked, left-padded, ``MAX_ITEM_LIST_LENGTH + 1``
    columns) and ``masked_item_labels``.

    The user order and the masks depend only on (``seed``, epoch, position of the batch), so they are
    identical with any ``worker`` count and can be replayed after a resume by :meth:`set_epoch`.
    Users of similar length share batches (``length_bucket_batches``), which the model turns into
    narrower batches.
    """

    def __init__(self, config, dataset, sampler=None, shuffle=True):
        uid_field, iid_field = dataset.uid_field, dataset.iid_field
        users = dataset.inter_feat[uid_field].numpy()
        if len(users) and np.any(np.diff(users) < 0):
            raise ValueError("training interactions must be grouped by user (build with BERT4RecDataset)")
        counts = np.bincount(users, minlength=dataset.user_num)
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        self.train_users = torch.from_numpy(np.flatnonzero(counts > 0))
        self.user_starts = torch.from_numpy(offsets[:-1])[self.train_users]
        self.user_ends = torch.from_numpy(offsets[1:])[self.train_users]
        self.items = dataset.inter_feat[iid_field].long()
        self.sample_size = len(self.train_users)

        self.uid_field = uid_field
        self.item_seq_field = iid_field + config["LIST_SUFFIX"]
        self.n_items = dataset.num(iid_field)
        self.mask_token = self.n_items
        self.window = config["MAX_ITEM_LIST_LENGTH"] + 1
        self.mask_ratio = config["mask_ratio"]
        self.last_item_ratio = config["last_item_mask_ratio"] or 0.0
        self.replace_probs = tuple(config["mask_replace_probs"]) if config["mask_replace_probs"] else None
        self.random_window = config["train_window"] == "random"
        self.seed = config["seed"]
        self.epoch = 0
        self._batch_epoch = 0
        self.lengths = (self.user_ends - self.user_starts).clamp(max=self.window)
        self.shuffle_users = shuffle
        self.bucket_batches = config["length_bucket_batches"] or 0
        self.order = torch.arange(self.sample_size)
        # Page-locked batches copy to the GPU faster (RecBole's Interaction is not pinned by torch's loader).
        self.pin_batches = config["device"] is not None and torch.device(config["device"]).type == "cuda"
        # torch's loader walks positions 0..N-1 in order (RecBole's DistributedSampler: rank r takes every
        # world_size-th), and __iter__ maps them through our own order, the same on every rank.
        super().__init__(config, dataset, sampler, shuffle=False)

    def _init_batch_size_and_step(self):
        batch_size = self.config["train_batch_size"]
        self.step = batch_size
        self.set_batch_size(batch_size)

    def set_epoch(self, epoch):
        """Make the next pass replay epoch ``epoch`` (shuffle order and masks)."""
        self.epoch = epoch

    def __iter__(self):
        if self.shuffle_users:
            generator = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, 0))
            self.order = length_bucketed_order(
                self.lengths, self.config["train_batch_size"], self.bucket_batches, generator
            )
        self._batch_epoch = self.epoch
        self.epoch += 1
        return super().__iter__()

    def collate_fn(self, positions):
        positions = torch.as_tensor(np.asarray(positions), dtype=torch.long)
        generator = torch.Generator().manual_seed(derive_seed(self.seed, self._batch_epoch, int(positions[0]) + 1))
        index = self.order[positions]
        windows = sample_windows(
            self.items, self.user_starts[index], self.user_ends[index], self.window,
            self.random_window, generator,
        )
        masked_seq, labels = mask_item_sequences(
            windows, self.mask_token, self.n_items, self.mask_ratio,
            self.last_item_ratio, self.replace_probs, generator,
        )
        batch = {self.uid_field: self.train_users[index], self.item_seq_field: masked_seq, MASK_LABELS_FIELD: labels}
        if self.pin_batches:
            batch = {field: tensor.pin_memory() for field, tensor in batch.items()}
        return Interaction(batch)
