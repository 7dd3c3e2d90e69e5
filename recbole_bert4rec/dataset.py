"""RecBole dataset for BERT4Rec: per-user sequences instead of one row per prefix.

RecBole's ``SequentialDataset`` materialises a [interactions x MAX_ITEM_LIST_LENGTH] history
matrix. Here training keeps the plain interaction rows (memory ~ interactions); only the
validation and test splits, one row per user, carry an ``item_id_list`` history, so RecBole's
``FullSortEvalDataLoader`` and every RecBole metric work on them unchanged.
"""

import numpy as np
import torch

from recbole.data.dataset import SequentialDataset
from recbole.data.interaction import Interaction
from recbole.utils import FeatureSource, FeatureType

from recbole_bert4rec.fast_csv import c_parser_for_recbole_reads

# Eval-row field: how many of the user's interactions precede the target (untruncated),
# so seen items beyond the model's window can still be removed from the ranking.
HISTORY_LENGTH_FIELD = "full_history_length"

SPLIT_MODES = ("valid_and_test", "valid_only", "test_only")


class BERT4RecDataset(SequentialDataset):
    """Leave-one-out split over time-ordered per-user sequences.

    Attributes set by :meth:`build` and shared by every split (``copy`` is shallow):
        user_item_seq: LongTensor [inter_num], all items, grouped by user, in time order.
        user_seq_offsets: LongTensor [user_num + 1], user ``u`` owns
            ``user_item_seq[offsets[u]:offsets[u + 1]]``.
    """

    def _load_feat(self, filepath, source):
        with c_parser_for_recbole_reads():  # same frame as RecBole's python-engine read, ~4x faster
            return super()._load_feat(filepath, source)

    def _change_feat_format(self):
        # Skip SequentialDataset's prefix augmentation; declare the list fields it would have made.
        super(SequentialDataset, self)._change_feat_format()
        self.item_id_list_field = self.iid_field + self.config["LIST_SUFFIX"]
        self.set_field_property(
            self.item_id_list_field, FeatureType.TOKEN_SEQ, FeatureSource.INTERACTION,
            self.max_item_list_len,
        )
        self.set_field_property(
            self.item_list_length_field, FeatureType.TOKEN, FeatureSource.INTERACTION, 1
        )

    def build(self):
        self._change_feat_format()
        split_mode = self._check_split_args()
        if self.time_field not in self.inter_feat:
            raise ValueError(
                f"dataset '{self.dataset_name}' has no time field '{self.time_field}' in its .inter "
                f"file, so interactions cannot be put in order for the sequential leave-one-out "
                f"split. Fix: add a '{self.time_field}:float' column (any per-user increasing value "
                f"works), or set TIME_FIELD (and load_col) to the column that orders interactions."
            )
        # Stable sort: ties in time keep the file order, as RecBole does.
        self.sort(by=[self.uid_field, self.time_field])
        users = self.inter_feat[self.uid_field].numpy()
        counts = np.bincount(users, minlength=self.user_num)
        offsets = np.zeros(self.user_num + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        self.user_item_seq = self.inter_feat[self.iid_field].clone()
        self.user_seq_offsets = torch.from_numpy(offsets)

        # Targets are taken from the end of each user's sequence; a user keeps at least one
        # interaction for training, so the short ones are only partly evaluated.
        n_held_out = {"valid_and_test": 2, "valid_only": 1, "test_only": 1}[split_mode]
        ends = offsets[1:]
        held_out = np.minimum(n_held_out, np.maximum(counts - 1, 0))
        train_end = ends - held_out
        train_index = np.flatnonzero(np.arange(len(users)) < train_end[users])

        last_target = np.flatnonzero(held_out >= 1)
        second_last_target = np.flatnonzero(held_out >= 2)
        if split_mode == "valid_and_test":
            valid_index = ends[second_last_target] - 2
            test_index = ends[last_target] - 1
        elif split_mode == "valid_only":
            valid_index, test_index = ends[last_target] - 1, np.array([], dtype=np.int64)
        else:
            valid_index, test_index = np.array([], dtype=np.int64), ends[last_target] - 1

        self._drop_unused_col()
        train = self.copy(self.inter_feat[torch.from_numpy(train_index)])
        valid = self.copy(self._eval_rows(valid_index, offsets))
        test = self.copy(self._eval_rows(test_index, offsets))
        return [train, valid, test]

    def _check_split_args(self):
        eval_args = self.config["eval_args"]
        if eval_args["order"] != "TO":
            raise ValueError(
                f"BERT4Rec needs time order: set eval_args.order: TO (got {eval_args['order']!r})."
            )
        split = eval_args["split"] or {}
        mode = split.get("LS")
        if list(split) != ["LS"] or mode not in SPLIT_MODES:
            raise ValueError(
                f"BERT4Rec supports the leave-one-out split only: set eval_args.split to "
                f"{{LS: valid_and_test}} (or valid_only / test_only); got {split!r}."
            )
        return mode

    def _eval_rows(self, target_index, offsets):
        """One row per target: the target interaction plus its (truncated) right-padded history.

        Rows are ordered by history length, so evaluation batches hold histories of similar
        length and the model can cut them to their real width (metrics do not depend on row order).
        """
        target_index = torch.as_tensor(target_index, dtype=torch.long)
        users = self.inter_feat[self.uid_field][target_index].long()
        history_length = target_index - torch.from_numpy(offsets)[users]
        kept = history_length.clamp(max=self.max_item_list_len)
        order = torch.sort(kept, stable=True).indices
        target_index, history_length, kept = target_index[order], history_length[order], kept[order]
        rows = self.inter_feat[target_index]
        columns = torch.arange(self.max_item_list_len).unsqueeze(0)
        source = (target_index - kept).unsqueeze(1) + columns
        inside = columns < kept.unsqueeze(1)
        items = self.user_item_seq[source.clamp(max=max(len(self.user_item_seq) - 1, 0))]
        rows.update(Interaction({
            self.item_id_list_field: torch.where(inside, items, torch.zeros_like(items)),
            self.item_list_length_field: kept,
            HISTORY_LENGTH_FIELD: history_length,
        }))
        return rows
