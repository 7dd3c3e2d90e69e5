"""Early, named checks of BERT4Rec's configuration: fail before any data is loaded."""

from recbole_bert4rec.losses import LOSS_TYPES, NEGATIVE_SAMPLING

ACTIVATION_NAMES = ("gelu", "relu", "swish", "silu", "tanh", "sigmoid")


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key and the fix."""


def _get(config, key):
    try:
        return config[key]
    except KeyError:
        return None


def _require_int(config, key, minimum):
    value = _get(config, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {value!r} ({type(value).__name__}); "
                          f"fix it in your yaml or with --{key}=<int>.")
    if value < minimum:
        raise ConfigError(f"{key} must be >= {minimum}, got {value}; fix it in your yaml or with --{key}=<int>.")
    return value


def _require_prob(config, key, low_open=False, high_open=False):
    value = _get(config, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be a number, got {value!r} ({type(value).__name__}).")
    too_low = value <= 0 if low_open else value < 0
    too_high = value >= 1 if high_open else value > 1
    if too_low or too_high:
        interval = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise ConfigError(f"{key} must be in {interval}, got {value}; e.g. --{key}=0.2.")
    return value


def check_bert4rec_config(config):
    """Validate every BERT4Rec key; ``config`` is a RecBole Config or a plain dict."""
    _require_int(config, "MAX_ITEM_LIST_LENGTH", 2)
    hidden = _require_int(config, "hidden_size", 1)
    heads = _require_int(config, "n_heads", 1)
    if hidden % heads:
        raise ConfigError(f"hidden_size ({hidden}) must be divisible by n_heads ({heads}); "
                          f"e.g. hidden_size: {heads * max(1, round(hidden / heads))}.")
    _require_int(config, "n_layers", 1)
    _require_int(config, "inner_size", 1)
    for key in ("epochs", "train_batch_size", "eval_batch_size"):
        _require_int(config, key, 1)
    _require_int(config, "stopping_step", 0)
    _require_int(config, "length_bucket_batches", 0)
    _require_prob(config, "mask_ratio", low_open=True, high_open=True)
    _require_prob(config, "hidden_dropout_prob", high_open=True)
    _require_prob(config, "attn_dropout_prob", high_open=True)
    _require_prob(config, "last_item_mask_ratio")
    _require_prob(config, "label_smoothing", high_open=True)
    act = _get(config, "hidden_act")
    if act not in ACTIVATION_NAMES:
        raise ConfigError(f"hidden_act must be one of {', '.join(ACTIVATION_NAMES)}; got {act!r}.")
    _check_loss(config)
    if not isinstance(_get(config, "bf16_autocast"), bool):
        raise ConfigError(f"bf16_autocast must be True or False, got {_get(config, 'bf16_autocast')!r}.")
    if _get(config, "layer_norm_position") not in ("post", "pre"):
        raise ConfigError(f"layer_norm_position must be 'post' or 'pre', got {_get(config, 'layer_norm_position')!r}.")
    if _get(config, "train_window") not in ("latest", "random"):
        raise ConfigError(f"train_window must be 'latest' or 'random', got {_get(config, 'train_window')!r}.")
    probs = _get(config, "mask_replace_probs")
    if probs is not None:
        if (not isinstance(probs, (list, tuple)) or len(probs) != 3
                or any(isinstance(p, bool) or not isinstance(p, (int, float)) or p < 0 for p in probs)
                or abs(sum(probs) - 1) > 1e-6):
            raise ConfigError(f"mask_replace_probs must be ~ or three non-negative numbers summing to 1 "
                              f"([mask, random item, keep], BERT uses [0.8, 0.1, 0.1]); got {probs!r}.")
    for key in ("layer_norm_eps", "initializer_range", "learning_rate"):
        value = _get(config, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{key} must be a positive number, got {value!r}.")


def _check_loss(config):
    loss_type = _get(config, "loss_type")
    if loss_type not in LOSS_TYPES:
        raise ConfigError(f"loss_type must be one of {', '.join(LOSS_TYPES)}, got {loss_type!r}.")
    if loss_type not in ("sampled_softmax", "gBCE"):
        return
    _require_int(config, "n_negatives", 1)
    sampling = _get(config, "negative_sampling")
    if sampling not in NEGATIVE_SAMPLING:
        raise ConfigError(f"negative_sampling must be one of {', '.join(NEGATIVE_SAMPLING)}, got {sampling!r}.")
    if loss_type == "gBCE":
        if sampling != "uniform":
            raise ConfigError("gBCE's calibration assumes uniform negatives: set negative_sampling: uniform "
                              "(popularity negatives go with loss_type: sampled_softmax).")
        _require_prob(config, "gbce_t")
    elif not isinstance(_get(config, "logq_correction"), bool):
        raise ConfigError(f"logq_correction must be True or False, got {_get(config, 'logq_correction')!r}.")
