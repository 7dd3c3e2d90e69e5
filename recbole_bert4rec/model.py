"""BERT4Rec (Sun et al., CIKM 2019) as a RecBole ``SequentialRecommender``.

Reads top to bottom like the paper: embeddings (items + [MASK], learned positions), a
bidirectional Transformer encoder, an output head that scores against the item embedding table
with a per-item bias, the cloze loss over masked positions, and prediction from a [MASK]
appended after the last real item.

Sequences inside the model are left-padded, so the newest item (or the prediction [MASK]) is
always in the last column and position ids mean "distance from the end".
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from recbole.model.abstract_recommender import SequentialRecommender
from recbole.utils import InputType

from recbole_bert4rec.config_checks import check_bert4rec_config
from recbole_bert4rec.dataloader import MASK_LABELS_FIELD
from recbole_bert4rec.dataset import HISTORY_LENGTH_FIELD
from recbole_bert4rec.losses import build_loss
from recbole_bert4rec.masking import left_align, mask_item_sequences, trim_leading_padding
from recbole_bert4rec.seen_items import history_pairs
from recbole_bert4rec.precision import bf16_autocast

ACTIVATIONS = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "swish": nn.SiLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


class SelfAttention(nn.Module):
    """Multi-head bidirectional self-attention on torch's fused ``scaled_dot_product_attention``."""

    def __init__(self, hidden_size, n_heads, attn_dropout):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.attn_dropout = attn_dropout

    def forward(self, x, key_padding_mask):
        batch, length, hidden = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.n_heads, hidden // self.n_heads).permute(2, 0, 3, 1, 4)
        context = F.scaled_dot_product_attention(
            q, k, v, attn_mask=key_padding_mask,
            dropout_p=self.attn_dropout if self.training else 0.0,
        )
        return self.out(context.transpose(1, 2).reshape(batch, length, hidden))


class TransformerBlock(nn.Module):
    """Attention + position-wise FFN, each with dropout, residual and LayerNorm (post- or pre-LN)."""

    def __init__(self, hidden_size, n_heads, inner_size, hidden_dropout, attn_dropout, act, eps, pre_norm):
        super().__init__()
        self.pre_norm = pre_norm
        self.attention = SelfAttention(hidden_size, n_heads, attn_dropout)
        self.attention_norm = nn.LayerNorm(hidden_size, eps=eps)
        self.ffn = nn.Sequential(
            nn.Linear(hidden_size, inner_size), ACTIVATIONS[act](), nn.Linear(inner_size, hidden_size)
        )
        self.ffn_norm = nn.LayerNorm(hidden_size, eps=eps)
        self.dropout = nn.Dropout(hidden_dropout)

    def forward(self, x, key_padding_mask):
        if self.pre_norm:
            x = x + self.dropout(self.attention(self.attention_norm(x), key_padding_mask))
            return x + self.dropout(self.ffn(self.ffn_norm(x)))
        x = self.attention_norm(x + self.dropout(self.attention(x, key_padding_mask)))
        return self.ffn_norm(x + self.dropout(self.ffn(x)))


class BERT4Rec(SequentialRecommender):
    input_type = InputType.POINTWISE

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        check_bert4rec_config(config)
        hidden = config["hidden_size"]
        eps = config["layer_norm_eps"]
        self.seq_width = self.max_seq_length + 1  # history + the prediction [MASK]
        self.mask_token = self.n_items  # ids: 0 padding, 1..n_items-1 items, n_items [MASK]
        self.mask_ratio = config["mask_ratio"]
        self.last_item_ratio = config["last_item_mask_ratio"] or 0.0
        self.replace_probs = tuple(config["mask_replace_probs"]) if config["mask_replace_probs"] else None
        self.loss_type = config["loss_type"]
        self.label_smoothing = config["label_smoothing"] or 0.0
        self.exclude_seen_items = config["exclude_seen_items"]
        self.pre_norm = config["layer_norm_position"] == "pre"
        self.initializer_range = config["initializer_range"]
        self.bf16 = bool(config["bf16_autocast"])

        # Embeddings
        self.item_embedding = nn.Embedding(self.n_items + 1, hidden, padding_idx=0)
        self.position_embedding = nn.Embedding(self.seq_width, hidden)
        self.embedding_norm = nn.Identity() if self.pre_norm else nn.LayerNorm(hidden, eps=eps)
        self.embedding_dropout = nn.Dropout(config["hidden_dropout_prob"])

        # Encoder
        self.encoder = nn.ModuleList(
            TransformerBlock(
                hidden, config["n_heads"], config["inner_size"], config["hidden_dropout_prob"],
                config["attn_dropout_prob"], config["hidden_act"], eps, self.pre_norm,
            )
            for _ in range(config["n_layers"])
        )
        self.final_norm = nn.LayerNorm(hidden, eps=eps) if self.pre_norm else nn.Identity()

        # Head: the paper's projection (dense + activation + LayerNorm), then tied item embeddings + bias
        self.output_projection = (
            nn.Sequential(nn.Linear(hidden, hidden), ACTIVATIONS[config["hidden_act"]](), nn.LayerNorm(hidden, eps=eps))
            if config["output_projection"] else nn.Identity()
        )
        self.output_bias = nn.Parameter(torch.zeros(self.n_items))

        self.apply(self._init_weights)
        self._set_seen_item_index(dataset)
        self.loss_fct = build_loss(config, dataset, self.n_items)

    def _init_weights(self, module):
        # BERT's init; torch's default (std 1 embeddings) stalls on the popularity plateau.
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=self.initializer_range)
        if isinstance(module, nn.Linear) and module.bias is not None:
            module.bias.data.zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def _set_seen_item_index(self, dataset):
        """Keep every user's full item sequence (from BERT4RecDataset) to remove seen items at ranking."""
        items = getattr(dataset, "user_item_seq", None)
        offsets = getattr(dataset, "user_seq_offsets", None)
        self.has_full_history = items is not None
        if not self.has_full_history:
            items, offsets = torch.zeros(0, dtype=torch.long), torch.zeros(1, dtype=torch.long)
        # Not persistent: data, not weights; checkpoints stay small.
        self.register_buffer("seen_items", items.long(), persistent=False)
        self.register_buffer("seen_offsets", offsets.long(), persistent=False)

    # ---- encoder ---------------------------------------------------------------------------
    def forward(self, item_seq):
        """item_seq: [B, W <= seq_width] left-padded ids (may contain [MASK]) -> hidden states [B, W, H].

        Position ids count from the last column, so a batch cut to its real width gives the same output.
        """
        width = item_seq.size(1)
        if width > self.seq_width:
            raise ValueError(
                f"item_seq has {width} columns but the model takes at most {self.seq_width} "
                f"(MAX_ITEM_LIST_LENGTH + 1); keep the newest {self.seq_width} or train with a larger MAX_ITEM_LIST_LENGTH"
            )
        positions = torch.arange(self.seq_width - width, self.seq_width, device=item_seq.device)
        x = self.item_embedding(item_seq) + self.position_embedding(positions)
        x = self.embedding_dropout(self.embedding_norm(x))
        key_padding_mask = (item_seq != 0)[:, None, None, :]  # True = may attend
        for block in self.encoder:
            x = block(x, key_padding_mask)
        return self.final_norm(x)

    # ---- head ------------------------------------------------------------------------------
    def item_logits(self, hidden):
        """Scores of hidden states [N, H] against every item id [N, n_items] (column 0 = padding)."""
        projected = self.output_projection(hidden)
        return projected @ self.item_embedding.weight[: self.n_items].T + self.output_bias

    # ---- loss ------------------------------------------------------------------------------
    def calculate_loss(self, interaction):
        if MASK_LABELS_FIELD in interaction:
            masked_seq, labels = interaction[self.ITEM_SEQ], interaction[MASK_LABELS_FIELD]
        else:
            masked_seq, labels = self._mask_recbole_rows(interaction)
        masked_seq, labels = trim_leading_padding(masked_seq, labels)
        with bf16_autocast(masked_seq.device, self.bf16):
            hidden = self.forward(masked_seq)
            is_label = labels > 0
            hidden, labels = hidden[is_label], labels[is_label]  # only masked positions reach the head
            return self.loss_fct(
                self.output_projection(hidden), labels, self.item_embedding.weight[: self.n_items], self.output_bias
            )

    def _mask_recbole_rows(self, interaction):
        """Rows from RecBole's own prefix loader: history + target become one sequence, then masked."""
        history = left_align(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], self.seq_width - 1)
        sequence = torch.cat([history, interaction[self.POS_ITEM_ID].unsqueeze(1)], dim=1)
        masked_seq, labels = mask_item_sequences(
            sequence.cpu(), self.mask_token, self.n_items, self.mask_ratio,
            self.last_item_ratio, self.replace_probs,
        )
        return masked_seq.to(sequence.device), labels.to(sequence.device)

    # ---- predict ---------------------------------------------------------------------------
    def _hidden_at_appended_mask(self, interaction):
        """Append [MASK] right after the last real item (all MAX_ITEM_LIST_LENGTH history items kept)."""
        history = left_align(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], self.seq_width - 1)
        mask_column = torch.full_like(history[:, :1], self.mask_token)
        (sequence,) = trim_leading_padding(torch.cat([history, mask_column], dim=1))
        with bf16_autocast(history.device, self.bf16):  # the encoder only: scores stay float32 for ranking
            return self.forward(sequence)[:, -1].float()

    def predict(self, interaction):
        projected = self.output_projection(self._hidden_at_appended_mask(interaction))
        items = interaction[self.ITEM_ID]
        return (projected * self.item_embedding(items)).sum(-1) + self.output_bias[items]

    def full_sort_predict(self, interaction):
        scores = self.item_logits(self._hidden_at_appended_mask(interaction))
        if self.exclude_seen_items:
            rows, items = self._seen_pairs(interaction)
            scores[rows, items] = float("-inf")
        return scores

    def _seen_pairs(self, interaction):
        """(row, item) pairs of everything the user interacted with before the target."""
        if self.has_full_history and HISTORY_LENGTH_FIELD in interaction and self.USER_ID in interaction:
            return history_pairs(self.seen_items, self.seen_offsets, interaction[self.USER_ID],
                                 interaction[HISTORY_LENGTH_FIELD])
        # Without the full history (e.g. RecBole's own dataset), remove what the window shows.
        item_seq = interaction[self.ITEM_SEQ]
        rows, cols = torch.nonzero(item_seq > 0, as_tuple=True)
        return rows, item_seq[rows, cols]
