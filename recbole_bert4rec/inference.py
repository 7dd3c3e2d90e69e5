"""Top-K recommendations from a checkpoint alone: no training data, no RecBole dataset.

Checkpoints carry the raw token <-> id maps of the user and item fields and every user's item
sequence (see ``checkpoint.dataset_snapshot``), so a model can serve

* known users, by their raw user id, from the full history stored at training time, and
* any raw sequence of item tokens (e.g. a new session), unknown tokens skipped and reported.

Queries are scored ``batch_size`` at a time; memory beyond the model is one
``[batch_size, n_items]`` score matrix. ``python -m recbole_bert4rec.inference --help`` is the CLI.
"""

import os
from dataclasses import dataclass, field
from itertools import islice

import torch
import yaml
from recbole.config import Config as RecBoleConfig
from recbole.data.interaction import Interaction

from recbole_bert4rec.checkpoint import CheckpointError, load_checkpoint, require_entries
from recbole_bert4rec.config import PLUGIN_MODELS, properties_dir

PADDING_ID = 0


@dataclass
class Recommendation:
    """Top-K items for one query (a user id or a sequence of item tokens), best first."""

    query: object
    items: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    unknown_items: list = field(default_factory=list)  # tokens of the query not in the checkpoint (skipped)
    error: str = None  # set when nothing could be recommended (e.g. an unknown user id)


class _PlainConfig(dict):
    """The checkpoint's config dict, read like RecBole's Config (missing keys are None)."""

    def __getitem__(self, key):
        return self.get(key)


class _CheckpointData:
    """What a model constructor reads of a RecBole dataset (id-space sizes; the interactions, e.g. for
    popularity-based negative sampling), rebuilt from the checkpoint's snapshot."""

    def __init__(self, snapshot):
        self.uid_field, self.iid_field = snapshot["fields"]["user"], snapshot["fields"]["item"]
        self.sizes = {field_name: len(tokens) for field_name, tokens in snapshot["id_tokens"].items()}
        histories = snapshot.get("user_histories")
        items = histories["items"].long() if histories is not None else torch.zeros(0, dtype=torch.long)
        self.inter_feat = {self.iid_field: items}

    def num(self, field_name):
        return self.sizes[field_name]


class Recommender:
    """A trained model plus the id maps and user histories from its checkpoint."""

    def __init__(self, model, user_tokens, item_tokens, histories=None, device="cpu"):
        self.model = model.eval()
        self.device = torch.device(device)
        self.user_tokens = list(user_tokens)
        self.item_tokens = list(item_tokens)
        # id 0 is RecBole's padding ([PAD]): never a query item, never recommended.
        self.user_ids = {token: uid for uid, token in enumerate(self.user_tokens) if uid != PADDING_ID}
        self.item_ids = {token: iid for iid, token in enumerate(self.item_tokens) if iid != PADDING_ID}
        self.histories = histories
        self.max_length = model.max_seq_length

    @classmethod
    def from_checkpoint(cls, path, device="cpu"):
        path = os.fspath(path)
        checkpoint = load_checkpoint(path, map_location=device)
        require_entries(checkpoint, path, "config", "state_dict", "dataset")
        # Current defaults under the saved config: checkpoints from before a key existed still build.
        config = _PlainConfig({**_plugin_defaults(checkpoint["config"]["model"]), **checkpoint["config"]})
        model_class = PLUGIN_MODELS.get(config["model"])
        if model_class is None:
            raise CheckpointError(f"{path!r} holds a {config['model']} model; inference supports "
                                  f"{', '.join(PLUGIN_MODELS)} checkpoints of recbole_bert4rec")
        snapshot = checkpoint["dataset"]
        data = _CheckpointData(snapshot)
        config["device"] = torch.device(device)
        model = model_class(config, data)
        model.load_state_dict(checkpoint["state_dict"])
        model.load_other_parameter(checkpoint.get("other_parameter"))
        return cls(model.to(device), snapshot["id_tokens"][data.uid_field], snapshot["id_tokens"][data.iid_field],
                   snapshot.get("user_histories"), device)

    # ---- public API -------------------------------------------------------------------------
    def recommend_users(self, users, k=10, exclude_seen=True, batch_size=256):
        """Yield one Recommendation per raw user id, in input order; unknown ids get ``error`` set.

        The user's whole stored sequence is the history (its newest ``MAX_ITEM_LIST_LENGTH`` items
        feed the model); with ``exclude_seen`` every item of it is left out of the ranking.
        """
        if self.histories is None:
            raise CheckpointError("this checkpoint stores no user histories (the model was trained on a dataset "
                                  "other than recbole_bert4rec's); recommend for item sequences instead")
        offsets, items = self.histories["offsets"], self.histories["items"]
        for chunk in _chunks(users, batch_size):
            queries, sequences = [], []
            for user in chunk:
                uid = self.user_ids.get(str(user))
                if uid is None:
                    queries.append(Recommendation(query=user, error=f"unknown user id {str(user)!r} "
                                                                   f"(not in the checkpoint's training data)"))
                    continue
                queries.append(Recommendation(query=user))
                sequences.append(items[offsets[uid]:offsets[uid + 1]].long())
            yield from self._fill(queries, sequences, k, exclude_seen)

    def recommend_sequences(self, sequences, k=10, exclude_seen=True, batch_size=256):
        """Yield one Recommendation per sequence of raw item tokens (oldest first), in input order.

        Unknown tokens are skipped and listed in ``unknown_items``; a sequence longer than
        ``MAX_ITEM_LIST_LENGTH`` is cut to its newest items for the model, while ``exclude_seen``
        still removes all of them. A sequence with no known item gets the model's answer for an
        empty history.
        """
        for chunk in _chunks(sequences, batch_size):
            queries, id_sequences = [], []
            for tokens in chunk:
                tokens = [str(token) for token in tokens]
                ids = [self.item_ids.get(token) for token in tokens]
                queries.append(Recommendation(
                    query=tokens, unknown_items=[t for t, i in zip(tokens, ids) if i is None]))
                id_sequences.append(torch.tensor([i for i in ids if i is not None], dtype=torch.long))
            yield from self._fill(queries, id_sequences, k, exclude_seen)

    # ---- scoring ----------------------------------------------------------------------------
    def _fill(self, queries, sequences, k, exclude_seen):
        """Score the sequences (one per query without error) and write top-K into the queries."""
        if sequences:
            scores = self.score(sequences, exclude_seen)
            top_scores, top_ids = scores.topk(min(k, scores.size(1)), dim=1)
            rows = iter(zip(top_scores.tolist(), top_ids.tolist()))
            for query in queries:
                if query.error is None:
                    row_scores, row_ids = next(rows)
                    kept = [(s, i) for s, i in zip(row_scores, row_ids) if s != float("-inf")]
                    query.items = [self.item_tokens[i] for _, i in kept]
                    query.scores = [s for s, _ in kept]
        yield from queries

    @torch.no_grad()
    def score(self, sequences, exclude_seen=True):
        """Scores [len(sequences), n_items] for item-id sequences (1-D LongTensors, oldest first);
        padding, and with ``exclude_seen`` every item of the sequence, score -inf."""
        lengths = torch.tensor([min(len(seq), self.max_length) for seq in sequences], dtype=torch.long)
        item_seq = torch.zeros(len(sequences), self.max_length, dtype=torch.long)
        for row, seq in enumerate(sequences):
            newest = seq[len(seq) - lengths[row]:]
            item_seq[row, : len(newest)] = newest  # RecBole's layout: right-padded
        interaction = Interaction({self.model.ITEM_SEQ: item_seq, self.model.ITEM_SEQ_LEN: lengths})
        seen_removal = self.model.exclude_seen_items
        self.model.exclude_seen_items = False  # done below from the full sequences, not the window
        try:
            scores = self.model.full_sort_predict(interaction.to(self.device)).float().cpu()
        finally:
            self.model.exclude_seen_items = seen_removal
        scores[:, PADDING_ID] = float("-inf")
        if exclude_seen:
            for row, seq in enumerate(sequences):
                scores[row, seq] = float("-inf")
        return scores


def _plugin_defaults(model_name):
    """Our yaml defaults for ``model_name`` (overall + model file), read as RecBole reads them."""
    loader = RecBoleConfig._build_yaml_loader(None)  # RecBole's loader: '1e-12' is a float, as in its configs
    root = properties_dir()
    defaults = {}
    for path in (root / "overall.yaml", root / "model" / f"{model_name}.yaml"):
        if path.is_file():
            with open(path, encoding="utf-8") as f:
                defaults.update(yaml.load(f, Loader=loader) or {})
    return defaults


def _chunks(iterable, size):
    if size < 1:
        raise ValueError(f"batch_size must be >= 1, got {size}")
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


if __name__ == "__main__":
    import sys

    from recbole_bert4rec.inference_cli import main

    sys.exit(main())
