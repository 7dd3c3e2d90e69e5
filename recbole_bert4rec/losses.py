"""Losses at BERT4Rec's masked positions, all with one call shape.

``loss(query, labels, item_weight, item_bias)``:
    query:       [N, H] head output (after ``output_projection``) at the N masked positions.
    labels:      [N] true item ids, in [1, n_items).
    item_weight: [n_items, H] item embedding table (row 0 = padding, never a class).
    item_bias:   [n_items] per-item output bias.

``CE`` scores every item ([N, n_items] logits); the sampled losses score the label plus
``n_negatives`` items drawn once per batch and shared by all N positions, so the head's
activations are [N, n_negatives + 1] whatever the catalog size.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LOSS_TYPES = ("CE", "BPR", "sampled_softmax", "gBCE")
NEGATIVE_SAMPLING = ("uniform", "popularity")


def _label_scores(query, labels, item_weight, item_bias):
    return (query * item_weight[labels]).sum(-1) + item_bias[labels]


class FullSoftmaxLoss(nn.Module):
    """Cross-entropy over the whole catalog (the paper's loss)."""

    def __init__(self, label_smoothing=0.0):
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, query, labels, item_weight, item_bias):
        logits = query @ item_weight[1:].T + item_bias[1:]  # padding is never a class
        return F.cross_entropy(logits.float(), labels - 1, label_smoothing=self.label_smoothing)


class BPRLoss(nn.Module):
    """Pairwise BPR with one uniformly drawn negative per masked position."""

    def __init__(self, n_items):
        super().__init__()
        self.n_items = n_items

    def forward(self, query, labels, item_weight, item_bias):
        negatives = torch.randint(1, self.n_items, labels.shape, device=labels.device)
        pos = _label_scores(query, labels, item_weight, item_bias)
        neg = _label_scores(query, negatives, item_weight, item_bias)
        return -F.logsigmoid((pos - neg).float()).mean()


class NegativeSampler(nn.Module):
    """Draws shared negatives with replacement, uniformly or in proportion to training popularity."""

    def __init__(self, n_items, n_negatives, distribution, item_counts=None):
        super().__init__()
        self.n_items = n_items
        self.n_negatives = n_negatives
        self.distribution = distribution
        if distribution == "uniform":
            probs = torch.ones(n_items)
        else:
            probs = item_counts.double().clamp(min=0)
            if probs[1:].sum() <= 0:
                raise ValueError("popularity negatives need item counts; the training data has none")
        probs[0] = 0.0  # padding is never drawn
        probs = probs / probs.sum()
        # Not persistent: derived from the data, so checkpoints keep only weights.
        self.register_buffer("probs", probs.float(), persistent=False)
        self.register_buffer("log_probs", probs.log().float(), persistent=False)

    def forward(self, device):
        if self.distribution == "uniform":
            return torch.randint(1, self.n_items, (self.n_negatives,), device=device)
        return torch.multinomial(self.probs, self.n_negatives, replacement=True)


class SampledSoftmaxLoss(nn.Module):
    """Softmax over the label + shared negatives, with logQ correction (Bengio & Senecal 2008).

    Subtracting log q(item) from each candidate's score makes the sampled softmax an unbiased-in-the-
    limit estimate of the full one; without it, popularity negatives push popular items down too hard.
    Negatives that happen to equal a row's label are masked out of that row.
    """

    def __init__(self, sampler, logq_correction=True):
        super().__init__()
        self.sampler = sampler
        self.logq_correction = logq_correction

    def forward(self, query, labels, item_weight, item_bias):
        negatives = self.sampler(labels.device)
        pos = _label_scores(query, labels, item_weight, item_bias).float()
        neg = (query @ item_weight[negatives].T + item_bias[negatives]).float()
        if self.logq_correction:
            pos = pos - self.sampler.log_probs[labels]
            neg = neg - self.sampler.log_probs[negatives]
        neg = neg.masked_fill(negatives.unsqueeze(0) == labels.unsqueeze(1), float("-inf"))
        logits = torch.cat([pos.unsqueeze(1), neg], dim=1)
        return (torch.logsumexp(logits, dim=1) - pos).mean()


def gbce_beta(n_negatives, n_items, t):
    """gBCE's beta for k negatives; ids 1..n_items-1 are items, one of them the label."""
    alpha = min(n_negatives / max(n_items - 2, 1), 1.0)
    return alpha * (t * (1.0 - 1.0 / alpha) + 1.0 / alpha)


class GBCELoss(nn.Module):
    """gBCE of gSASRec (Petrov & Macdonald, RecSys 2023) with k uniform negatives.

    BCE whose positive term is log(sigmoid(s)^beta): with alpha = k / (catalog size - 1) (the share of
    the label's negatives that are seen) and calibration t in [0, 1], beta = alpha * (t * (1 - 1/alpha) + 1/alpha).
    t = 0 gives beta = 1 (plain BCE, overconfident under sampling); t = 1 gives beta = alpha, whose
    scores estimate full-catalog probabilities. Written with logsigmoid, so no clamping is needed.
    """

    def __init__(self, sampler, t):
        super().__init__()
        self.sampler = sampler
        self.beta = gbce_beta(sampler.n_negatives, sampler.n_items, t)
        # Score shift that puts a context-free model at its optimum (sigmoid = beta / (beta + k)). Without
        # it the encoder learns that constant itself by collapsing every query onto one direction and stops
        # using the context (seen on small catalogs). A constant shift leaves rankings unchanged.
        self.prior_logit = math.log(self.beta / sampler.n_negatives)

    def forward(self, query, labels, item_weight, item_bias):
        negatives = self.sampler(labels.device)
        pos = _label_scores(query, labels, item_weight, item_bias).float() + self.prior_logit
        neg = (query @ item_weight[negatives].T + item_bias[negatives]).float() + self.prior_logit
        is_negative = (negatives.unsqueeze(0) != labels.unsqueeze(1)).float()
        positive_term = -self.beta * F.logsigmoid(pos)
        negative_term = (F.softplus(neg) * is_negative).sum(1)  # -log(1 - sigmoid(s)) = softplus(s)
        # Averaged over the k + 1 scores of a position, as BCE over (label, negatives) would be.
        return ((positive_term + negative_term) / (1 + self.sampler.n_negatives)).mean()


def training_item_counts(dataset, n_items):
    """Interactions per item id in the training split (the popularity negatives' distribution)."""
    items = dataset.inter_feat[dataset.iid_field].long()
    return torch.bincount(items, minlength=n_items)[:n_items]


def build_loss(config, dataset, n_items):
    """The loss named by ``loss_type`` (see properties/model/BERT4Rec.yaml)."""
    loss_type = config["loss_type"]
    if loss_type == "CE":
        return FullSoftmaxLoss(config["label_smoothing"] or 0.0)
    if loss_type == "BPR":
        return BPRLoss(n_items)
    distribution = config["negative_sampling"]
    counts = training_item_counts(dataset, n_items) if distribution == "popularity" else None
    sampler = NegativeSampler(n_items, config["n_negatives"], distribution, counts)
    if loss_type == "sampled_softmax":
        return SampledSoftmaxLoss(sampler, bool(config["logq_correction"]))
    if loss_type == "gBCE":
        return GBCELoss(sampler, config["gbce_t"])
    raise ValueError(f"loss_type must be one of {', '.join(LOSS_TYPES)}, got {loss_type!r}")
